#!/usr/bin/env bash
# ICMP errors of sessions reach the other side translated: a UDP datagram through NAT and FULLNAT to a real
# server port with no listener gets the real server's port unreachable back at the client, from the VIP,
# quoting the client's own datagram, so the client's connected socket sees "connection refused".
source "$(dirname "$0")/lib.sh"

# One datagram from a connected UDP socket in the client namespace; prints "refused" when the ICMP port
# unreachable came back (Linux reports it on the next recv), "answer <text>" or "timeout" otherwise.
udp_probe() { # udp_probe PORT
    lab_ns client timeout 10 /usr/bin/python3 - "$RVS_VIP" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"probe")
try:
    print("answer", s.recv(100).decode().strip())
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
PY
}
forwarded() {
    dp_counter "$(lab_rvsadm --dp-stats)" icmp_errors_forwarded | awk '{ s += $2 } END { print s + 0 }'
}

for mode in nat fullnat; do
    lab_up 1 "$mode"
    lab_rvsadm -A -u "$RVS_VIP:9001" -s rr
    if [[ $mode == nat ]]; then
        lab_rvsadm -a -u "$RVS_VIP:9001" -r "$RVS_RS1_IP:9009" -m
    else
        lab_rvsadm -a -u "$RVS_VIP:9001" -r "$RVS_RS1_IP:9009" --fullnat
        lab_rvsadm --add-laddr -z "$RVS_LADDR1" -u "$RVS_VIP:9001"
    fi
    # The responder on :9000 proves the UDP path works; :9009 has no listener.
    lab_rvsadm -A -u "$RVS_VIP:9000" -s rr
    lab_rvsadm -a -u "$RVS_VIP:9000" -r "$RVS_RS1_IP:$RVS_UDP_PORT" "$([[ $mode == nat ]] && echo -m || echo --fullnat)"
    [[ $mode == fullnat ]] && lab_rvsadm --add-laddr -z "$RVS_LADDR1" -u "$RVS_VIP:9000"
    assert_eq "answer rs1" "$(udp_probe 9000)" "$mode: UDP answer"
    assert_eq 0 "$(forwarded)" "$mode: icmp_errors_forwarded before"
    assert_eq "refused" "$(udp_probe 9001)" "$mode: port unreachable back at the client"
    assert_eq 1 "$(forwarded)" "$mode: icmp_errors_forwarded after"
    ok "$mode: the real server's port unreachable reaches the client as from the VIP"
    lab_down
done
