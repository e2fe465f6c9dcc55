#!/usr/bin/env bash
# Two workers: every packet is processed by the lcore that owns its flow (misowned_packets stays 0), packets that
# arrive on the other lcore's queue are handed off (handoff_in > 0), and both lcores create sessions.
source "$(dirname "$0")/lib.sh"

lab_up 2 fullnat
http_service rr --fullnat
read -r rs1 rs2 other <<<"$(http_counts 200)"
assert_eq 0 "$other" "failed requests through FULLNAT with two workers"
lab_mode nat
lab_rvsadm -C
http_service rr -m
read -r rs1 rs2 other <<<"$(http_counts 200)"
assert_eq 0 "$other" "failed requests through NAT with two workers"

stats=$(lab_rvsadm --dp-stats)
lcores=$(awk '$1 == "lcore" { print $2 }' <<<"$stats" | sort -u | xargs)
assert_eq "1 2" "$lcores" "lcores listed by --dp-stats"
while read -r lcore value; do
    assert_eq 0 "$value" "misowned_packets on lcore $lcore"
done < <(dp_counter "$stats" misowned_packets)
assert_eq 2 "$(dp_counter "$stats" misowned_packets | wc -l)" "misowned_packets lines"
handoff=$(dp_counter "$stats" handoff_in | awk '{ s += $2 } END { print s + 0 }')
((handoff > 0)) || fail "handoff_in is 0 on every lcore"
while read -r lcore value; do
    ((value > 0)) || fail "sessions_created is 0 on lcore $lcore"
done < <(dp_counter "$stats" sessions_created)
assert_eq 2 "$(dp_counter "$stats" sessions_created | wc -l)" "sessions_created lines"
ok "misowned 0, handoff_in $handoff, sessions on both lcores: $(dp_counter "$stats" sessions_created | xargs)"
