#!/usr/bin/env bash
# UDP through NAT and then FULLNAT: each datagram from a new client port is a new flow, scheduled rr.
source "$(dirname "$0")/lib.sh"

udp_round() { # four datagrams, four source ports
    local i out=""
    for i in 1 2 3 4; do out="$out $(lab_udp "$RVS_VIP" "$RVS_UDP_PORT" "hello $i")"; done
    echo "$out" | xargs -n1 | sort | uniq -c | awk '{print $2 "=" $1}' | xargs
}

lab_up 1 nat
lab_rvsadm -A -u "$RVS_VIP:$RVS_UDP_PORT" -s rr
lab_rvsadm -a -u "$RVS_VIP:$RVS_UDP_PORT" -r "$RVS_RS1_IP:$RVS_UDP_PORT" -m
lab_rvsadm -a -u "$RVS_VIP:$RVS_UDP_PORT" -r "$RVS_RS2_IP:$RVS_UDP_PORT" -m
assert_eq "rs1=2 rs2=2" "$(udp_round)" "UDP answers through NAT"
ok "UDP NAT"

lab_mode fullnat
lab_rvsadm -C
lab_rvsadm -A -u "$RVS_VIP:$RVS_UDP_PORT" -s rr
lab_rvsadm -a -u "$RVS_VIP:$RVS_UDP_PORT" -r "$RVS_RS1_IP:$RVS_UDP_PORT" --fullnat
lab_rvsadm -a -u "$RVS_VIP:$RVS_UDP_PORT" -r "$RVS_RS2_IP:$RVS_UDP_PORT" --fullnat
lab_rvsadm --add-laddr -z "$RVS_LADDR1" -u "$RVS_VIP:$RVS_UDP_PORT"
assert_eq "rs1=2 rs2=2" "$(udp_round)" "UDP answers through FULLNAT"
ok "UDP FULLNAT"
