#!/usr/bin/env bash
# NAT: the real servers' gateway is rvsd; they see the client's own address; a 4 MiB transfer is intact.
source "$(dirname "$0")/lib.sh"

lab_up 1 nat
lab_ns rs1 ip route get "$RVS_CLIENT_IP" | grep -q "via 10.10.1.1" || fail "rs1 does not route the client via rvsd"
http_service rr -m
first=$(http_get)
second=$(http_get)
assert_eq "rs1 rs2" "$(printf '%s\n' "$first" "$second" | sort | xargs)" "pages through NAT"
assert_eq "$RVS_CLIENT_IP" "$(rs_sources rs1 | tail -n1)" "source seen by rs1"
assert_eq "$RVS_CLIENT_IP" "$(rs_sources rs2 | tail -n1)" "source seen by rs2"
ok "rs see the client address"
check_big_download "$VIP_URL" "NAT"
check_big_download "$VIP_URL" "NAT (other rs)"
ok "two 4 MiB transfers"
