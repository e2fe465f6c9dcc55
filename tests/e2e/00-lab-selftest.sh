#!/usr/bin/env bash
# The lab plumbing without rvsd: namespaces (veth pairs stand in for rvsd's taps), nginx and the UDP responders
# answer inside their namespaces, routes switch between NAT and FULLNAT shapes, and lab_down leaves nothing.
source "$(dirname "$0")/lib.sh"

lab_up_fake nat
for ns in "$RVS_NS_CLIENT" "$RVS_NS_RS1" "$RVS_NS_RS2"; do
    [[ -e "/run/netns/$ns" ]] || fail "namespace $ns missing"
done
assert_eq rs1 "$(lab_ns rs1 curl -s --max-time 3 "http://$RVS_RS1_IP:$RVS_RS1_HTTP/")" "rs1 page"
assert_eq rs2 "$(lab_ns rs2 curl -s --max-time 3 "http://$RVS_RS2_IP:$RVS_RS2_HTTP/")" "rs2 page"
got=$(lab_ns rs1 curl -s --max-time 5 "http://$RVS_RS1_IP:$RVS_RS1_HTTP/big.bin" | sha256sum | cut -d' ' -f1)
assert_eq "$(cat "$RVS_RUN_DIR/big.sha256")" "$got" "rs1 big.bin"
assert_eq rs1 "$(echo x | lab_ns rs1 timeout 5 socat -T 2 - "UDP4:$RVS_RS1_IP:$RVS_UDP_PORT")" "rs1 udp"
assert_eq rs2 "$(echo x | lab_ns rs2 timeout 5 socat -T 2 - "UDP4:$RVS_RS2_IP:$RVS_UDP_PORT")" "rs2 udp"
assert_eq "$RVS_RS1_IP" "$(rs_sources rs1 | tail -n1)" "rs1 access log source"
assert_eq "02:72:76:73:01:02" "$(lab_ns rs1 cat "/sys/class/net/$RVS_TAP_RS1/address")" "rs1 MAC"
assert_eq "default via 10.10.1.1" "$(lab_ns rs1 ip route show default | cut -d' ' -f1-3)" "rs1 NAT route"
assert_eq "default via 10.10.0.1" "$(lab_ns client ip route show default | cut -d' ' -f1-3)" "client route"
lab_mode fullnat
assert_eq "" "$(lab_ns rs2 ip route show default)" "rs2 FULLNAT has no default route"
assert_eq "10.10.9.0/24 via 10.10.2.1" "$(lab_ns rs2 ip route show 10.10.9.0/24 | cut -d' ' -f1-3)" "rs2 FULLNAT route"
if lab_ns rs2 ip route get "$RVS_CLIENT_IP" >/dev/null 2>&1; then fail "rs2 has a route to the client in FULLNAT"; fi
ok "namespaces, nginx, udp responders, routes"

pids="$(cat "$RVS_RUN_DIR/nginx-rs1/nginx.pid") $(cat "$RVS_RUN_DIR/nginx-rs2/nginx.pid")"
pids="$pids $(cat "$RVS_RUN_DIR/socat-rs1.pid") $(cat "$RVS_RUN_DIR/socat-rs2.pid")"
lab_down
for ns in "$RVS_NS_CLIENT" "$RVS_NS_RS1" "$RVS_NS_RS2"; do
    [[ ! -e "/run/netns/$ns" ]] || fail "namespace $ns left behind"
done
for pid in $pids; do
    if kill -0 "$pid" 2>/dev/null && [[ "$(ps -o stat= -p "$pid")" != Z* ]]; then fail "process $pid left running"; fi
done
[[ ! -d "$RVS_RUN_DIR" ]] || fail "run dir $RVS_RUN_DIR left behind"
# Namespace teardown is asynchronous in the kernel: the root-side veth ends go within a moment.
no_lab_links() { ! ip -o link show | grep -q -- " ${RVS_PREFIX}"; }
lab_wait 5 "interfaces ${RVS_PREFIX}* to go" no_lab_links || fail "interfaces ${RVS_PREFIX}* left behind"
ok "lab_down left nothing behind"
