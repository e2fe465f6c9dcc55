#!/usr/bin/env bash
# rvs-gen against rvsd over vhost-user/virtio_user (bench/gen-lab.sh, small and paced): UDP flows counted at the
# responder, a SYN flood, and 3000 full TCP connections through NAT and through FULLNAT with zero failures;
# rvs-gen's figures and rvsd's counters must agree exactly (every frame one side sent the other received; no drop
# but the start-up gratuitous ARPs sent before the virtio side attached). About 20 s. Needs root (hugepages).
# No namespaces: gen-lab.sh uses its own run directory and EAL file prefixes, and cleans up by its trap.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NAME=41-gen
N=3000     # connections, datagrams, SYNs per scenario
FLOWS=500
CLIENTS=16
SERVERS=4
OUT=$(mktemp -d /tmp/rvs-e2e-gen.XXXXXX)
LAB_PID=""
cleanup() {
    if [ -n "$LAB_PID" ]; then
        kill -TERM "$LAB_PID" 2>/dev/null || true
        wait "$LAB_PID" 2>/dev/null || true
    fi
    rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
    echo "FAIL [$NAME]: $*" >&2
    for f in "$OUT"/*; do [ -f "$f" ] && { echo "== $f" >&2; cat "$f" >&2; }; done
    exit 1
}
ok() { echo "ok [$NAME]: $*"; }
assert_eq() { [[ "$1" == "$2" ]] || fail "$3: expected [$1], got [$2]"; }

# gen SCENARIO LINE KEY: the value of KEY=... on rvs-gen's report line "rvs-gen: LINE ..."
gen() {
    awk -v l="$2" -v k="$3" '$1 == "rvs-gen:" && ($2 == l || $2 " " $3 == l) {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) { print kv[2]; exit } } }' "$OUT/$1.gen"
}
# dp SCENARIO COUNTER: rvsd's counter summed over lcores
dp() { awk -v n="$2" '$1 == "lcore" && $3 == n { s += $4 } END { print s + 0 }' "$OUT/$1.dp"; }
# Every non-zero drop.* counter but drop.tx_full, as "name=value" words.
other_drops() { awk '$1 == "lcore" && $3 ~ /^drop\./ && $3 != "drop.tx_full" && $4 != 0 { printf "%s=%s ", $3, $4 }' "$OUT/$1.dp"; }

# Frames: whatever one side sent, the other received; the only drops are the start-up GARPs.
check_frames() { # check_frames SCENARIO
    local s=$1
    assert_eq "$(($(gen "$s" "port client" tx) + $(gen "$s" "port server" tx)))" "$(dp "$s" rx_packets)" \
        "$s: rvsd received every frame rvs-gen sent"
    assert_eq "$(($(gen "$s" "port client" rx) + $(gen "$s" "port server" rx)))" "$(dp "$s" tx_packets)" \
        "$s: rvs-gen received every frame rvsd sent"
    assert_eq "0 0" "$(gen "$s" "port client" tx_dropped) $(gen "$s" "port server" tx_dropped)" "$s: rvs-gen tx drops"
    assert_eq "$(dp "$s" garp_sent)" "$(dp "$s" drop.tx_full)" "$s: rvsd tx_full drops are the GARPs sent before virtio attached"
    assert_eq "" "$(other_drops "$s")" "$s: no other rvsd drop"
    assert_eq "0 $SERVERS 0" "$(gen "$s" responder arp_replies) $(gen "$s" responder arp_answers) $(gen "$s" responder other)" \
        "$s: responder ARP (announced, never asked) and strays"
    assert_eq "0 0" "$(gen "$s" "port client" arp_replies) $(gen "$s" "port client" other)" "$s: client ARP and strays"
    assert_eq 0 "$(dp "$s" misowned_packets)" "$s: misowned packets"
}

# synproxy off: the syn scenario checks that rvsd forwards every SYN (with "auto", the default, rvsd answers the
# flood with SYN cookies itself past 1024 half-open sessions: e2e 33 tests that).
GEN_SYNPROXY=off GEN_OUT="$OUT" GEN_SCENARIOS="udp syn tcp-nat tcp-fullnat" GEN_COUNT=$N GEN_RATE=2000 GEN_SECONDS=20 \
    GEN_TIMEOUT_MS=10000 GEN_CONC=4096 GEN_FLOWS=$FLOWS GEN_CLIENTS=$CLIENTS GEN_SERVERS=$SERVERS GEN_LADDRS=2 \
    "$ROOT/bench/gen-lab.sh" >"$OUT/lab.log" 2>&1 &
LAB_PID=$!
rc=0
wait "$LAB_PID" || rc=$?
LAB_PID=""
cat "$OUT/lab.log"
((rc == 0)) || fail "bench/gen-lab.sh failed (status $rc)"

# UDP: every datagram reached a real server, every flow was seen, one session per flow.
check_frames udp
assert_eq "$N $N $FLOWS" "$(gen udp sent packets) $(gen udp responder udp_packets) $(gen udp responder udp_flows)" \
    "udp: datagrams sent, received by the responder, distinct flows"
assert_eq "$FLOWS $N 0" "$(dp udp sessions_created) $(dp udp lb_packets_in) $(dp udp lb_packets_out)" \
    "udp: rvsd sessions and packets"
ok "UDP: $N datagrams over $FLOWS flows, all counted at the responder, one session per flow"

# SYN flood: every SYN forwarded and answered; one session per distinct random tuple.
check_frames syn
assert_eq "$N $N $N" "$(gen syn sent packets) $(gen syn responder syns) $(gen syn sent flood_synacks)" \
    "syn: SYNs sent, answered by the responder, SYN-ACKs back at the client"
assert_eq "$N $N" "$(dp syn lb_packets_in) $(dp syn lb_packets_out)" "syn: rvsd forwarded both ways"
created=$(dp syn sessions_created)
((created <= N && created > N - 30)) || fail "syn: sessions_created $created (random tuples: at most $N, a few repeats)"
ok "SYN flood: $N SYNs from random sources, $created sessions"

for s in tcp-nat tcp-fullnat; do
    check_frames "$s"
    assert_eq "$N $N 0 0 0 0" "$(gen "$s" conns started) $(gen "$s" conns completed) $(gen "$s" conns failed) \
$(gen "$s" conns timed_out) $(gen "$s" conns left_open) $(gen "$s" conns unexpected)" \
        "$s: connections started completed failed timed_out left_open unexpected"
    assert_eq "$N $N $N $N 0 0" "$(gen "$s" responder syns) $(gen "$s" responder requests) $(gen "$s" responder fins) \
$(gen "$s" responder acks) $(gen "$s" responder rsts) $(gen "$s" responder bad_cookie)" \
        "$s: responder syns requests fins acks rsts bad_cookie"
    assert_eq "$N $((4 * N)) $((3 * N)) $N" "$(dp "$s" sessions_created) $(dp "$s" lb_packets_in) \
$(dp "$s" lb_packets_out) $(dp "$s" sessions_live)" "$s: rvsd sessions, packets in (4 per connection) and out (3)"
    assert_eq "$N" "$(gen "$s" "latency conn" n)" "$s: latency samples"
    ok "$s: $N connections, all completed; rvsd counted exactly 4 frames in and 3 out per connection"
done
# rvsd's neighbours are the announced clients and servers, all resolved (nothing waited for ARP).
if grep -q INCOMPLETE "$OUT/tcp-fullnat.neigh"; then fail "tcp-fullnat: unresolved neighbours"; fi
ok "all scenarios agree with rvsd's counters"
