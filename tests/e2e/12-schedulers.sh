#!/usr/bin/env bash
# Schedulers through the lab beyond rr/wrr: wlc (the default) balances by connection counts; sh and mh keep each
# client on one real server, whichever of the two workers handles its connections.
source "$(dirname "$0")/lib.sh"

# Ten extra client addresses in the client namespace: 10.10.0.11 .. 10.10.0.20.
add_clients() {
    local i
    for i in $(seq 11 20); do lab_ns client ip addr add "10.10.0.$i/24" dev "$RVS_TAP_CLIENT" 2>/dev/null || true; done
}

# For each extra client address, 5 requests: prints "<addr>=<distinct answers>" per address.
per_client_answers() {
    local i out
    for i in $(seq 11 20); do
        out=$(lab_ns client timeout 30 curl -s --connect-timeout 3 --max-time 3 -H 'Connection: close' \
            --interface "10.10.0.$i" "$VIP_URL/?n=[1-5]" || true)
        echo "10.10.0.$i=$(sort -u <<<"$out" | xargs | tr ' ' ',')"
    done
}

lab_up 1 nat
lab_rvsadm -A -t "$RVS_VIP:$HTTP_VIP_PORT"
lab_rvsadm -a -t "$RVS_VIP:$HTTP_VIP_PORT" -r "$RVS_RS1_IP:$RVS_RS1_HTTP" -m
lab_rvsadm -a -t "$RVS_VIP:$HTTP_VIP_PORT" -r "$RVS_RS2_IP:$RVS_RS2_HTTP" -m
lab_rvsadm -Ln | grep -q "^TCP  $RVS_VIP:$HTTP_VIP_PORT wlc\$" || fail "-A without -s is not wlc"
read -r rs1 rs2 other <<<"$(http_counts 100)"
assert_eq 0 "$other" "failed requests (wlc)"
assert_near 50 "$rs1" 2 "wlc 1:1 rs1"
ok "wlc 1:1: $rs1/$rs2"

lab_rvsadm -C
http_service wlc -m 3 1
read -r rs1 rs2 other <<<"$(http_counts 100)"
assert_eq 0 "$other" "failed requests (wlc 3:1)"
assert_near 75 "$rs1" 3 "wlc 3:1 rs1"
ok "wlc 3:1: $rs1/$rs2"
lab_down

lab_up 2 nat
add_clients
for sched in sh mh; do
    lab_rvsadm -C
    http_service "$sched" -m
    answers=$(per_client_answers)
    grep -v -E '=(rs1|rs2)$' <<<"$answers" && fail "$sched: a client was not kept on one real server: $(xargs <<<"$answers")"
    grep -q '=rs1$' <<<"$answers" || fail "$sched: no client landed on rs1"
    grep -q '=rs2$' <<<"$answers" || fail "$sched: no client landed on rs2"
    again=$(per_client_answers)
    assert_eq "$answers" "$again" "$sched: the same clients asked again"
    ok "$sched: every client kept on one server over 2 workers ($(grep -c '=rs1$' <<<"$answers") on rs1, $(grep -c '=rs2$' <<<"$answers") on rs2)"
done
