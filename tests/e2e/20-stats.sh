#!/usr/bin/env bash
# Exact traffic counters and the 2-second rate estimator: a known UDP exchange through NAT (two workers, so the
# counters are sums over lcores) shows exact Conns/InPkts/OutPkts/InBytes/OutBytes in `-Ln --stats --exact`
# (bytes = IP total length, as IPVS counts them), rates appear in `-Ln --rate` after an estimator tick, and `-Z`
# zeroes counters and rates.
source "$(dirname "$0")/lib.sh"

# Our own single-process UDP responder on rs1 (the lab's socat forks per datagram and may lose one on a loaded
# machine; exact counts need every answer): answers every datagram with "rs1\n". lab_down kills whatever runs in
# the lab's namespaces.
ECHO_PORT=9001
SVC="$RVS_VIP:$ECHO_PORT"
start_echo() {
    lab_ns rs1 timeout 200 python3 - "$RVS_RS1_IP" "$ECHO_PORT" >"$RVS_RUN_DIR/echo-rs1.log" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    _, peer = s.recvfrom(65535)
    s.sendto(b"rs1\n", peer)
EOF
    lab_wait 10 "the UDP responder on rs1" \
        bash -c "ip netns exec '${RVS_PREFIX}rs1' ss -Hunl 'sport = :$ECHO_PORT' | grep -q ."
}

# udp_burst N PAYLOAD_LEN: N datagrams of PAYLOAD_LEN bytes from N client sockets (N flows); each waits for its
# answer. Prints the number of answers.
udp_burst() {
    lab_ns client timeout 60 python3 - "$RVS_VIP" "$ECHO_PORT" "$1" "$2" <<'EOF'
import socket, sys
vip, port, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
answers = 0
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.sendto(b"x" * size, (vip, port))
    try:
        if s.recv(2048) == b"rs1\n":
            answers += 1
    except socket.timeout:
        pass
    s.close()
print(answers)
EOF
}

stats_header() {
    printf '%s\n' "IP Virtual Server version 1.2.1 (size=4096)"
    printf '%-33s %8s %8s %8s %8s %8s\n' "Prot LocalAddress:Port" Conns InPkts OutPkts InBytes OutBytes
    printf '%s\n' "  -> RemoteAddress:Port"
}

# The expected --stats --exact listing: stats_table CONNS INPKTS OUTPKTS INBYTES OUTBYTES
stats_table() {
    stats_header
    printf '%-33s%9d%9d%9d%9d%9d\n' "UDP  $SVC" "$@"
    printf '  -> %-28s%9d%9d%9d%9d%9d\n' "$RVS_RS1_IP:$ECHO_PORT" "$@"
}

rate_zero_table() {
    printf '%s\n' "IP Virtual Server version 1.2.1 (size=4096)"
    printf '%-33s %8s %8s %8s %8s %8s\n' "Prot LocalAddress:Port" CPS InPPS OutPPS InBPS OutBPS
    printf '%s\n' "  -> RemoteAddress:Port"
    printf '%-33s%9d%9d%9d%9d%9d\n' "UDP  $SVC" 0 0 0 0 0
    printf '  -> %-28s %8d %8d %8d%9d%9d\n' "$RVS_RS1_IP:$ECHO_PORT" 0 0 0 0 0
}

lab_up 2 nat
start_echo
lab_rvsadm -A -u "$SVC" -s rr
lab_rvsadm -a -u "$SVC" -r "$RVS_RS1_IP:$ECHO_PORT" -m
assert_text "$(stats_table 0 0 0 0 0)" "$(lab_rvsadm -Ln --stats --exact)" "--stats --exact before traffic"

# 7 datagrams of 100 bytes: IP total length 20 + 8 + 100 = 128 in; the answer "rs1\n" is 20 + 8 + 4 = 32 out.
assert_eq 7 "$(udp_burst 7 100)" "answers to the first burst"
assert_text "$(stats_table 7 7 7 896 224)" "$(lab_rvsadm -Ln --stats --exact)" "--stats --exact after 7 datagrams"
ok "exact counters: 7 conns, 7+7 packets, 896/224 bytes"

# A second burst of other sizes adds up exactly: 5 x (28 + 1000) = 5140 in, 5 x 32 = 160 out.
assert_eq 5 "$(udp_burst 5 1000)" "answers to the second burst"
assert_text "$(stats_table 12 12 12 6036 384)" "$(lab_rvsadm -Ln --stats --exact)" "--stats --exact after 12 datagrams"
ok "exact counters add up over two bursts"

# Rates: 200 flows of 500 bytes. Within one 2 s sample that is at most InPPS 25 ((200<<9)/4 -> 25) and at most
# InBPS 13200 ((200*528<<4)/4 -> 13200) and OutBPS 800: the EWMA only ever moves a quarter of the way to the true rate.
# -Z first: the estimators restart from zero averages, so those bounds hold whatever the tick phase.
lab_rvsadm -Z
assert_eq 200 "$(udp_burst 200 500)" "answers to the rate burst"
sleep 2.2
rate=$(lab_rvsadm -Ln --rate)
read -r _ _ cps inpps outpps inbps outbps <<<"$(grep '^UDP ' <<<"$rate")"
echo "$rate"
((inpps >= 1 && inpps <= 25)) || fail "InPPS $inpps not in 1..25"
((outpps >= 1 && outpps <= 25)) || fail "OutPPS $outpps not in 1..25"
((cps >= 1 && cps <= 25)) || fail "CPS $cps not in 1..25"
((inbps >= 1 && inbps <= 13200)) || fail "InBPS $inbps not in 1..13200"
((outbps >= 1 && outbps <= 800)) || fail "OutBPS $outbps not in 1..800"
dest_rates=$(grep "^  -> $RVS_RS1_IP:" <<<"$rate" | awk '{ print $3, $4, $5, $6, $7 }')
assert_eq "$cps $inpps $outpps $inbps $outbps" "$dest_rates" "dest rates equal the service's (one dest)"
ok "rates after an estimator tick: CPS $cps InPPS $inpps OutPPS $outpps InBPS $inbps OutBPS $outbps"

# -Z zeroes counters and rates, and the rates stay 0 over the next estimator tick (no negative delta).
lab_rvsadm -Z
assert_text "$(stats_table 0 0 0 0 0)" "$(lab_rvsadm -Ln --stats --exact)" "--stats --exact after -Z"
assert_text "$(rate_zero_table)" "$(lab_rvsadm -Ln --rate)" "--rate after -Z"
sleep 2.2
assert_text "$(rate_zero_table)" "$(lab_rvsadm -Ln --rate)" "--rate one tick after -Z"
ok "-Z zeroes counters and rates"

# Counting goes on after -Z; -Z of one service by name works the same.
assert_eq 1 "$(udp_burst 1 100)" "answer after -Z"
assert_text "$(stats_table 1 1 1 128 32)" "$(lab_rvsadm -Ln --stats --exact)" "--stats --exact after -Z and one datagram"
lab_rvsadm -Z -u "$SVC"
assert_text "$(stats_table 0 0 0 0 0)" "$(lab_rvsadm -Ln --stats --exact)" "--stats --exact after -Z -u"
ok "counting resumes after -Z; -Z -u zeroes one service"
