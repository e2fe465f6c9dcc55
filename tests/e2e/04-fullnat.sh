#!/usr/bin/env bash
# FULLNAT: the real servers have no route to the client; they see the local addresses 10.10.9.x as source;
# pages and a 4 MiB transfer come back intact.
source "$(dirname "$0")/lib.sh"

lab_up 1 fullnat
if lab_ns rs1 ip route get "$RVS_CLIENT_IP" >/dev/null 2>&1; then fail "rs1 has a route to the client"; fi
http_service rr --fullnat
lab_rvsadm -Ln | grep -q '10.10.1.2:8998 *FullNat' || fail "-Ln does not list rs1 as FullNat: $(lab_rvsadm -Ln)"

first=$(http_get)
second=$(http_get)
assert_eq "rs1 rs2" "$(printf '%s\n' "$first" "$second" | sort | xargs)" "pages through FULLNAT"
for rs in rs1 rs2; do
    src=$(rs_sources "$rs" | tail -n1)
    [[ "$src" == "$RVS_LADDR1" || "$src" == "$RVS_LADDR2" ]] || fail "$rs saw source [$src], not a local address"
    if rs_sources "$rs" | grep -qx "$RVS_CLIENT_IP"; then fail "$rs saw the client address"; fi
done
ok "rs see 10.10.9.x, never the client"

read -r rs1 rs2 other <<<"$(http_counts 50)"
assert_eq "25 25 0" "$rs1 $rs2 $other" "rr over 50 FULLNAT connections"
check_big_download "$VIP_URL" "FULLNAT"
check_big_download "$VIP_URL" "FULLNAT (other rs)"
ok "50 connections and two 4 MiB transfers"
