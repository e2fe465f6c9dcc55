#!/usr/bin/env bash
# The practical: NAT, rr over rs1 and rs2; -Ln exactly as ipvsadm prints it; two curls give two different pages.
source "$(dirname "$0")/lib.sh"

lab_up 1 nat
lab_rvsadm -C
lab_rvsadm -A -t "$RVS_VIP:8990" -s rr
lab_rvsadm -a -t "$RVS_VIP:8990" -r "$RVS_RS1_IP:8998" -m
lab_rvsadm -a -t "$RVS_VIP:8990" -r "$RVS_RS2_IP:8999" -m

expected="$(ln_header)
TCP  10.10.0.100:8990 rr
$(ln_dest 10.10.1.2:8998 Masq 1 0 0)
$(ln_dest 10.10.2.2:8999 Masq 1 0 0)"
assert_text "$expected" "$(lab_rvsadm -Ln)" "rvsadm -Ln before traffic"
ok "-Ln matches ipvsadm's format"

first=$(http_get)
second=$(http_get)
[[ "$first" == rs1 || "$first" == rs2 ]] || fail "first curl answered [$first]"
[[ "$second" == rs1 || "$second" == rs2 ]] || fail "second curl answered [$second]"
[[ "$first" != "$second" ]] || fail "rr sent both requests to $first"
ok "two curls: $first then $second"

# After traffic the table is the same except for the connection counters.
normalize() { sed -E 's/^(  -> [^ ]+ +[A-Za-z]+ +[0-9]+ +)[0-9]+ +[0-9]+ *$/\1N N/'; }
assert_text "$(normalize <<<"$expected")" "$(lab_rvsadm -Ln | normalize)" "rvsadm -Ln after traffic"
ok "-Ln after traffic"
