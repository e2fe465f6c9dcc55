#!/usr/bin/env bash
# Deleting a real server moves new traffic to the remaining one.
source "$(dirname "$0")/lib.sh"

lab_up 1 nat
http_service rr -m
read -r rs1 rs2 other <<<"$(http_counts 10)"
assert_eq "5 5 0" "$rs1 $rs2 $other" "rr before the delete"
lab_rvsadm -d -t "$RVS_VIP:8990" -r "$RVS_RS1_IP:8998"
expected="$(ln_header)
TCP  10.10.0.100:8990 rr
$(ln_dest 10.10.2.2:8999 Masq 1 0 0)"
normalize() { sed -E 's/^(  -> [^ ]+ +[A-Za-z]+ +[0-9]+ +)[0-9]+ +[0-9]+ *$/\1N N/'; }
assert_text "$(normalize <<<"$expected")" "$(lab_rvsadm -Ln | normalize)" "-Ln after deleting rs1"
read -r rs1 rs2 other <<<"$(http_counts 10)"
assert_eq "0 10 0" "$rs1 $rs2 $other" "after deleting rs1"
ok "traffic moved to rs2"
