#!/usr/bin/env bash
# Direct routing and tunnels end to end: rs1 holds the VIP (on the TUN device of tests/lab/decap.py, which
# decapsulates IPIP, GRE and GUE in user space) and answers the client directly over a return link that
# bypasses rvsd. Pages and uploads through -g, -i (ipip), -i gue (nocsum, csum), -i gre (csum); uploads
# use full-size segments with DF, so tunnels exercise rvsd's fragmentation-needed answer (path MTU).
# Connection counts follow the IN-ONLY state table.
source "$(dirname "$0")/lib.sh"

lab_up 1 nat

# Return path rs1 -> client that does not go through rvsd.
ip link add "${RVS_PREFIX}rc" netns "$RVS_NS_CLIENT" type veth peer name "${RVS_PREFIX}rr" netns "$RVS_NS_RS1"
lab_ns client ip addr add 10.10.7.1/24 dev "${RVS_PREFIX}rc"
lab_ns rs1 ip addr add 10.10.7.2/24 dev "${RVS_PREFIX}rr"
lab_ns client ip link set "${RVS_PREFIX}rc" up
lab_ns rs1 ip link set "${RVS_PREFIX}rr" up
lab_ns rs1 ip route add "$RVS_CLIENT_IP/32" via 10.10.7.1
for c in all default "$RVS_TAP_CLIENT" "${RVS_PREFIX}rc"; do
    lab_ns client sysctl -qw "net.ipv4.conf.$c.rp_filter=0"
done
for c in all default "$RVS_TAP_RS1"; do
    lab_ns rs1 sysctl -qw "net.ipv4.conf.$c.rp_filter=0"
done

# Decapsulation (holds the VIP on its TUN device) and a small HTTP server on VIP:8990 in rs1.
nsenter --net="/run/netns/$RVS_NS_RS1" /usr/bin/python3 "$RVS_LAB_DIR/decap.py" --vip "$RVS_VIP" \
    --dev "${RVS_PREFIX}t" --gue-port 6080 --timeout 200 --stats "$RVS_RUN_DIR/decap.stats" \
    >"$RVS_RUN_DIR/decap.log" 2>&1 &
echo $! >"$RVS_RUN_DIR/decap.pid"
lab_wait 10 "decap.py ready" grep -q ready "$RVS_RUN_DIR/decap.log"
cat >"$RVS_RUN_DIR/vip_server.py" <<'EOF'
import socket, socketserver, sys

class H(socketserver.StreamRequestHandler):
    def handle(self):
        self.connection.settimeout(20)
        n = 0
        for line in self.rfile:
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
            if line in (b"\r\n", b"\n"):
                break
        got = len(self.rfile.read(n)) if n else 0
        body = b"rs1 %d\n" % got
        self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
EOF
nsenter --net="/run/netns/$RVS_NS_RS1" timeout 200 /usr/bin/python3 "$RVS_RUN_DIR/vip_server.py" "$RVS_VIP" \
    "$HTTP_VIP_PORT" >"$RVS_RUN_DIR/vip_server.log" 2>&1 &
echo $! >"$RVS_RUN_DIR/vip_server.pid"
lab_wait 10 "rs1 server on the VIP" lab_ns rs1 curl -sf --max-time 2 "$VIP_URL/"
head -c 300000 /dev/urandom >"$RVS_RUN_DIR/upload.bin"

get() { lab_curl -H 'Connection: close' "$VIP_URL/" || true; }
upload() {
    lab_ns client timeout 30 curl -s --connect-timeout 3 --max-time 20 -H 'Connection: close' \
        --data-binary "@$RVS_RUN_DIR/upload.bin" "$VIP_URL/up" || true
}
dest_conns() { # "ActiveConn InActConn" of rs1
    lab_rvsadm -Ln | awk -v d="$RVS_RS1_IP:$HTTP_VIP_PORT" '$2 == d { print $5, $6 }'
}

lab_rvsadm -A -t "$RVS_VIP:$HTTP_VIP_PORT" -s rr
lab_rvsadm -a -t "$RVS_VIP:$HTTP_VIP_PORT" -r "$RVS_RS1_IP" -g
assert_eq "rs1 0" "$(get)" "page through direct routing"
assert_eq "rs1 300000" "$(upload)" "upload through direct routing"
# Both connections saw the client's FIN: FIN_WAIT (inactive) under IN-ONLY.
assert_eq "0 2" "$(dest_conns)" "DR ActiveConn/InActConn after two closed connections"
lab_rvsadm -Lnc | grep -q "FIN_WAIT" || fail "no FIN_WAIT session in -Lnc"
ok "direct routing: page, upload, IN-ONLY counts"

# A connection held open is active.
lab_ns client timeout 20 bash -c "exec 3<>/dev/tcp/$RVS_VIP/$HTTP_VIP_PORT; sleep 3" &
held=$!
active_is() { [[ "$(dest_conns | cut -d' ' -f1)" == "$1" ]]; }
lab_wait 5 "an established DR connection" active_is 1 || fail "ActiveConn did not reach 1: $(dest_conns)"
wait "$held" || true
ok "an open DR connection counts as active"

for tun in "--tun-type ipip" "--tun-type gue --tun-port 6080 --tun-nocsum" \
    "--tun-type gue --tun-port 6080 --tun-csum" "--tun-type gre --tun-csum" "--tun-type gre"; do
    # shellcheck disable=SC2086
    lab_rvsadm -e -t "$RVS_VIP:$HTTP_VIP_PORT" -r "$RVS_RS1_IP" -i $tun
    assert_eq "rs1 0" "$(get)" "page through tunnel ($tun)"
    assert_eq "rs1 300000" "$(upload)" "upload through tunnel ($tun)"
    ok "tunnel $tun: page and 300 kB upload"
done

stats=$(lab_rvsadm --dp-stats)
sent=$(dp_counter "$stats" icmp_errors_forwarded | awk '{ s += $2 } END { print s + 0 }')
too_big=$(dp_counter "$stats" drop.tunnel_too_big | awk '{ s += $2 } END { print s + 0 }')
assert_eq 0 "$too_big" "drop.tunnel_too_big"
# The client learnt the tunnel MTU from rvsd's fragmentation-needed answers.
lab_ns client ip route get "$RVS_VIP" | grep -q "mtu" || fail "client has no path MTU for the VIP: $(lab_ns client ip route get "$RVS_VIP")"
ok "path MTU learnt by the client ($(lab_ns client ip route get "$RVS_VIP" | grep -o 'mtu [0-9]*')), icmp_errors_forwarded=$sent"

lab_kill_pidfile "$RVS_RUN_DIR/vip_server.pid" 2
lab_kill_pidfile "$RVS_RUN_DIR/decap.pid" 5
lab_wait 5 "decap stats" test -s "$RVS_RUN_DIR/decap.stats"
grep -q "bad=0" "$RVS_RUN_DIR/decap.stats" || fail "decap.py saw bad packets: $(cat "$RVS_RUN_DIR/decap.stats")"
for k in ipip gue gre; do
    grep -Eq "$k=[1-9]" "$RVS_RUN_DIR/decap.stats" || fail "no $k packets decapsulated: $(cat "$RVS_RUN_DIR/decap.stats")"
done
ok "decapsulated: $(cat "$RVS_RUN_DIR/decap.stats")"
