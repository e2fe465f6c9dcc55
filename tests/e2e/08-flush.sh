#!/usr/bin/env bash
# -C empties everything: -Ln shows only the header and the VIP stops answering.
source "$(dirname "$0")/lib.sh"

lab_up 1 nat
http_service rr -m
lab_rvsadm -A -u "$RVS_VIP:$RVS_UDP_PORT" -s rr
lab_rvsadm -a -u "$RVS_VIP:$RVS_UDP_PORT" -r "$RVS_RS1_IP:$RVS_UDP_PORT" -m
assert_eq rs1 "$(http_get)" "page before -C"
lab_rvsadm -C
assert_text "$(ln_header)" "$(lab_rvsadm -Ln)" "-Ln after -C"
got=$(http_get)
assert_eq "" "$got" "page after -C"
lab_rvsadm -A -t "$RVS_VIP:8990" -s rr
lab_rvsadm -a -t "$RVS_VIP:8990" -r "$RVS_RS2_IP:8999" -m
assert_eq rs2 "$(http_get)" "page after re-adding a service"
ok "-C flushed everything; re-adding works"
