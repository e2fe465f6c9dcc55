#!/usr/bin/env bash
# Direct routing and tunnels with real servers set up the way LVS documents them, and a router that carries
# the replies, so the test can prove that the responses bypass rvsd.
#
#   client 10.10.0.2   (tap)  --- rvsd port 0 "client" 10.10.0.1 (VIP 10.10.0.100)
#   rs1    10.10.1.2   (tap)  --- rvsd port 1 "rs1"    10.10.1.1
#   rs2    10.10.2.2   (tap)  --- rvsd port 2 "rs2"    10.10.2.1
#   rtr    10.10.3.254 (tap)  --- rvsd port 3 "rtr"    10.10.3.1  (RVS_LAB_EXTRA_CONF: the port, and the routes
#                                                                  10.10.21.0/24, 10.10.22.0/24 via 10.10.3.254)
#   rtr 10.10.20.1 -- client 10.10.20.2 (veth)   rtr: 10.10.0.2/32 via 10.10.20.2, forwarding on
#   rtr 10.10.21.1 -- rs1    10.10.21.2 (veth)   rs1: default via 10.10.21.1
#   rtr 10.10.22.1 -- rs2    10.10.22.2 (veth)   rs2: default via 10.10.22.1
#
# The client reaches the VIP through rvsd (its default route); the real servers answer it through the router.
# DR (-g): real servers 10.10.1.2 and 10.10.2.2 (on rvsd's own links) with the VIP on lo, arp_ignore=1,
# arp_announce=2, and a second nginx on VIP:8990 (the port ipvsadm forces). Counters before and after a known
# number of requests: rvsd transmits nothing on the client port, the load balancer sends nothing back
# (lb_packets_out 0), everything it received from the client went out on the real-server ports.
# TUN (-i ipip, gre, gre csum, gue nocsum/csum/remcsum): real servers 10.10.21.2 and 10.10.22.2, in subnets
# rvsd reaches only through the router; tests/lab/decap.py decapsulates into a TUN device holding the VIP,
# nginx answers. Per tunnel type: both pages with nothing sent to the client, a 1 MiB upload whose stored copy
# is byte-identical, and the client's path MTU for the VIP equal to 1500 minus that tunnel's overhead (learnt
# from rvsd's fragmentation-needed answers). -Ln shows Route/Tunnel with IN-ONLY ActiveConn/InActConn,
# ActiveConn 1 while a slow upload is open.
source "$(dirname "$0")/lib.sh"

lab_init
P=$RVS_PREFIX
NS_RTR="${P}rtr"
TAP_RTR="${P}3"
RS1_TUN_IP=10.10.21.2
RS2_TUN_IP=10.10.22.2
GUE_PORT=6080
SVC="$RVS_VIP:$HTTP_VIP_PORT"
RVS_LAB_EXTRA_CONF=$(
    cat <<EOF
[[port]]
name = "rtr"
device = "net_tap3,iface=$TAP_RTR"
address = ["10.10.3.1/24"]

[[route]]
dest = "10.10.21.0/24"
via = "10.10.3.254"
port = "rtr"

[[route]]
dest = "10.10.22.0/24"
via = "10.10.3.254"
port = "rtr"
EOF
)
lab_add_netns "$NS_RTR"
lab_up 1 nat

# ---- the router ----
lab_wait 10 "rvsd's fourth tap" ip link show dev "$TAP_RTR" || fail "no tap $TAP_RTR"
lab_plumb "$NS_RTR" "$TAP_RTR" 10.10.3.254/24 02:72:76:73:03:02
rtr() { ip netns exec "$NS_RTR" "$@"; }
# veth NAME_IN_A NS_A ADDR_A NAME_IN_RTR ADDR_RTR
veth() {
    ip link add "$1" netns "$2" type veth peer name "$4" netns "$NS_RTR"
    ip -n "$2" addr add "$3/24" dev "$1"
    ip -n "$NS_RTR" addr add "$5/24" dev "$4"
    ip -n "$2" link set "$1" up
    ip -n "$NS_RTR" link set "$4" up
}
veth "${P}rc" "$RVS_NS_CLIENT" 10.10.20.2 "${P}tc" 10.10.20.1
veth "${P}r1" "$RVS_NS_RS1" "$RS1_TUN_IP" "${P}t1" 10.10.21.1
veth "${P}r2" "$RVS_NS_RS2" "$RS2_TUN_IP" "${P}t2" 10.10.22.1
rtr sysctl -qw net.ipv4.ip_forward=1
# Replies come from the VIP, which the router has no route to: no reverse-path filtering.
for c in all default "$TAP_RTR" "${P}tc" "${P}t1" "${P}t2"; do rtr sysctl -qw "net.ipv4.conf.$c.rp_filter=0"; done
rtr ip route add "$RVS_CLIENT_IP/32" via 10.10.20.2
# The client receives the replies (from the VIP) on its router link.
for c in all default "$RVS_TAP_CLIENT" "${P}rc"; do lab_ns client sysctl -qw "net.ipv4.conf.$c.rp_filter=0"; done
lab_wait 15 "the router to resolve rvsd's 10.10.3.1" \
    bash -c "ip netns exec '$NS_RTR' ping -c1 -W1 10.10.3.1 || ip -n '$NS_RTR' neigh show 10.10.3.1 | grep -q lladdr"

# ---- real servers, as LVS documents them ----
d_vip() { echo "$RVS_RUN_DIR/vip-$1"; }
vip_nginx() { # vip_nginx rs1|rs2: nginx on VIP:8990 serving "<rs>" and accepting PUT under /up/
    local rs=$1 d
    d=$(d_vip "$1")
    mkdir -p "$d/www/up" "$d/tmp" "$d/logs"
    echo "$rs" >"$d/www/index.html"
    cat >"$d/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon on;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 256; }
http {
    default_type application/octet-stream;
    log_format lab '\$remote_addr \$remote_port "\$request" \$status \$request_length';
    access_log $d/logs/access.log lab;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_timeout 5s;
    server {
        listen $RVS_VIP:$HTTP_VIP_PORT;
        root $d/www;
        index index.html;
        location /up/ {
            dav_methods PUT;
            client_max_body_size 16m;
        }
    }
}
EOF
    lab_ns "$rs" nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"
    lab_wait 10 "VIP nginx in $rs" test -s "$d/nginx.pid"
}
for rs in rs1 rs2; do
    if [[ $rs == rs1 ]]; then tap=$RVS_TAP_RS1 veth="${P}r1" gw=10.10.21.1; else tap=$RVS_TAP_RS2 veth="${P}r2" gw=10.10.22.1; fi
    lab_ns "$rs" ip addr add "$RVS_VIP/32" dev lo
    for c in all "$tap" "$veth"; do
        lab_ns "$rs" sysctl -qw "net.ipv4.conf.$c.arp_ignore=1" "net.ipv4.conf.$c.arp_announce=2"
    done
    # The client's packets come in from rvsd while the route back to the client leaves through the router.
    for c in all default "$tap" "$veth"; do lab_ns "$rs" sysctl -qw "net.ipv4.conf.$c.rp_filter=0"; done
    lab_ns "$rs" ip route replace default via "$gw"
    vip_nginx "$rs"
    assert_eq "$rs" "$(lab_ns "$rs" curl -s --max-time 2 "$VIP_URL/")" "$rs answers on the VIP locally"
    # That request came from the VIP itself: drop its log line once nginx has written it.
    lab_wait 5 "$rs's access log line" test -s "$(d_vip "$rs")/logs/access.log"
    : >"$(d_vip "$rs")/logs/access.log"
done

# ---- counters ----
stats() { lab_rvsadm --dp-stats; }
# ctr STATS NAME: a port counter ("client(port0).tx_packets") or the sum of an lcore counter over lcores.
ctr() {
    awk -v n="$2" '($1 == "lcore" && $3 == n) || ($1 == "port" && $2 == n) { s += $NF } END { print s + 0 }' <<<"$1"
}
delta() { echo $(($(ctr "$2" "$3") - $(ctr "$1" "$3"))); } # delta BEFORE AFTER NAME
ns_ctr() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/$3"; } # ns_ctr NS DEV COUNTER
PORT0_TX="client(port0).tx_packets"
PORT0_RX="client(port0).rx_packets"
PORT1_TX="rs1(port1).tx_packets"
PORT2_TX="rs2(port2).tx_packets"
PORT3_TX="rtr(port3).tx_packets"
ln_svc() { # the whole -Ln for the service: ln_svc FORWARD RIP1 ACT1 INACT1 RIP2 ACT2 INACT2
    ln_header
    echo "TCP  $SVC rr"
    ln_dest "$2:$HTTP_VIP_PORT" "$1" 1 "$3" "$4"
    ln_dest "$5:$HTTP_VIP_PORT" "$1" 1 "$6" "$7"
}
ln_is() { [[ "$(lab_rvsadm -Ln)" == "$1" ]]; }
# expect_ln EXPECTED WHAT: -Ln becomes EXPECTED within 3 s (the client's last FIN may still be on its way).
expect_ln() {
    lab_wait 3 "$2" ln_is "$1" || true
    assert_text "$1" "$(lab_rvsadm -Ln)" "$2"
}
put() { # put FILE NAME: PUT to /up/NAME through the VIP; prints the HTTP status
    lab_ns client timeout 30 curl -s -o /dev/null -w '%{http_code}' --connect-timeout 3 --max-time 25 \
        -H 'Connection: close' -T "$1" "${@:3}" "$VIP_URL/up/$2" || true
}
stored_sha() { # the sha256 of /up/NAME on whichever real server stored it
    local f
    for rs in rs1 rs2; do
        f="$(d_vip "$rs")/www/up/$1"
        [[ -f "$f" ]] && sha256sum <"$f" | cut -d' ' -f1 && return 0
    done
    echo "not stored"
}
head -c $((1024 * 1024)) /dev/urandom >"$RVS_RUN_DIR/up.bin"
UP_SHA=$(sha256sum <"$RVS_RUN_DIR/up.bin" | cut -d' ' -f1)
head -c $((256 * 1024)) /dev/urandom >"$RVS_RUN_DIR/slow.bin"
SLOW_SHA=$(sha256sum <"$RVS_RUN_DIR/slow.bin" | cut -d' ' -f1)

# ================= direct routing =================
lab_rvsadm -A -t "$SVC" -s rr
# ipvsadm forces the real-server port of -g to the service port: :8998 and :8999 become :8990.
lab_rvsadm -a -t "$SVC" -r "$RVS_RS1_IP:$RVS_RS1_HTTP" -g
lab_rvsadm -a -t "$SVC" -r "$RVS_RS2_IP:$RVS_RS2_HTTP" -g
expect_ln "$(ln_svc Route "$RVS_RS1_IP" 0 0 "$RVS_RS2_IP" 0 0)" "-Ln of the DR service"
# One request resolves every neighbour on the way; then the client's entry for the VIP is made permanent so
# that no ARP crosses rvsd's client port while counting.
assert_eq rs1 "$(http_get "$VIP_URL")" "first page through direct routing"
vip_mac=$(lab_ns client ip neigh show "$RVS_VIP" dev "$RVS_TAP_CLIENT" | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')
[[ -n "$vip_mac" ]] || fail "the client has not resolved the VIP"
lab_ns client ip neigh replace "$RVS_VIP" lladdr "$vip_mac" dev "$RVS_TAP_CLIENT" nud permanent

N=6
s0=$(stats)
crx0=$(ns_ctr "$RVS_NS_CLIENT" "${P}rc" rx_packets)
ctap0=$(ns_ctr "$RVS_NS_CLIENT" "$RVS_TAP_CLIENT" rx_packets)
assert_eq "3 3 0" "$(http_counts $N)" "rs1/rs2/failed pages of $N requests through direct routing"
s1=$(stats)
crx1=$(ns_ctr "$RVS_NS_CLIENT" "${P}rc" rx_packets)
ctap1=$(ns_ctr "$RVS_NS_CLIENT" "$RVS_TAP_CLIENT" rx_packets)
d_in=$(delta "$s0" "$s1" lb_packets_in)
d_rx0=$(delta "$s0" "$s1" "$PORT0_RX")
d_tx0=$(delta "$s0" "$s1" "$PORT0_TX")
d_tx12=$(($(delta "$s0" "$s1" "$PORT1_TX") + $(delta "$s0" "$s1" "$PORT2_TX")))
d_arp=$(delta "$s0" "$s1" arp_requests)
d_ltx=$(delta "$s0" "$s1" tx_packets)
d_rx12=$(($(delta "$s0" "$s1" "rs1(port1).rx_packets") + $(delta "$s0" "$s1" "rs2(port2).rx_packets")))
echo "DR window: lb_packets_in +$d_in, client port rx +$d_rx0 tx +$d_tx0, rs ports tx +$d_tx12, arp_requests +$d_arp," \
    "lcore tx +$d_ltx, rs ports rx +$d_rx12; client router link rx +$((crx1 - crx0)), client tap rx +$((ctap1 - ctap0))"
# Each request is at least SYN, ACK, request, FIN, ACK from the client.
((d_in >= 5 * N)) || fail "lb_packets_in grew by $d_in for $N requests"
assert_eq "$d_in" "$d_rx0" "packets received on the client port = packets load balanced"
assert_eq "$((d_in + d_arp))" "$d_tx12" "rs ports tx = load-balanced packets + rvsd's ARP requests"
assert_eq 0 "$d_tx0" "rvsd's client port tx during $N DR requests"
# Nothing came back from the real servers to rvsd but answers to its own ARP requests.
((d_rx12 <= d_arp)) || fail "rvsd received $d_rx12 frames from the real servers ($d_arp ARP requests sent)"
assert_eq 0 "$((ctap1 - ctap0))" "frames the client received from rvsd during $N DR requests"
assert_eq "$d_tx12" "$d_ltx" "lcore tx_packets = device tx"
assert_eq 0 "$(ctr "$s1" lb_packets_out)" "lb_packets_out"
# At least SYN-ACK and the response per request came back through the router.
((crx1 - crx0 >= 2 * N)) || fail "the client received only $((crx1 - crx0)) packets on its router link"
for rs in rs1 rs2; do
    src=$(cut -d' ' -f1 "$(d_vip "$rs")/logs/access.log" | sort -u)
    assert_eq "$RVS_CLIENT_IP" "$src" "client address seen by $rs's nginx (addresses untouched)"
done
expect_ln "$(ln_svc Route "$RVS_RS1_IP" 0 4 "$RVS_RS2_IP" 0 3)" \
    "-Ln after 7 closed DR connections (IN-ONLY FIN_WAIT is inactive)"
fin_waits=$(lab_rvsadm -Lnc | awk -v v="$SVC" -v c="$RVS_CLIENT_IP" \
    '$3 == "FIN_WAIT" && $5 == v && index($4, c ":") == 1 { n[$6]++ } END { for (d in n) print d, n[d] }' | sort)
assert_text "$(printf '%s\n' "$RVS_RS1_IP:$HTTP_VIP_PORT 4" "$RVS_RS2_IP:$HTTP_VIP_PORT 3")" "$fin_waits" \
    "FIN_WAIT sessions client -> VIP -> real server in -Lnc"
ok "DR: pages from rs1 and rs2; rvsd sent $d_tx12 packets to the real servers and 0 to the client; lb_packets_out 0"

# A slow upload (rr's turn: rs2) is an established connection while it lasts.
lab_ns client timeout 20 curl -s -o /dev/null -w '%{http_code}' --connect-timeout 3 --max-time 15 \
    -H 'Connection: close' --limit-rate 96K -T "$RVS_RUN_DIR/slow.bin" "$VIP_URL/up/slow.bin" \
    >"$RVS_RUN_DIR/slow.status" &
slow=$!
lab_wait 5 "ActiveConn 1 on rs2 during the slow upload" ln_is "$(ln_svc Route "$RVS_RS1_IP" 0 4 "$RVS_RS2_IP" 1 3)" ||
    fail "-Ln during the slow upload: $(lab_rvsadm -Ln)"
wait "$slow" || fail "slow upload: curl exited with $?"
assert_eq 201 "$(cat "$RVS_RUN_DIR/slow.status")" "slow upload status"
assert_eq "$SLOW_SHA" "$(sha256sum <"$(d_vip rs2)/www/up/slow.bin" | cut -d' ' -f1)" "slow upload stored by rs2"
expect_ln "$(ln_svc Route "$RVS_RS1_IP" 0 4 "$RVS_RS2_IP" 0 4)" "-Ln after the slow upload"
ok "DR: ActiveConn 1 while a 256 kB upload runs, InActConn afterwards"

# ================= tunnels =================
lab_rvsadm -D -t "$SVC"
for rs in rs1 rs2; do
    # A tunnel real server holds the VIP on the decapsulating device (tunl0 on a production kernel).
    lab_ns "$rs" ip addr del "$RVS_VIP/32" dev lo
    nsenter --net="/run/netns/${P}$rs" /usr/bin/python3 "$RVS_LAB_DIR/decap.py" --vip "$RVS_VIP" --dev "${P}t" \
        --gue-port "$GUE_PORT" --timeout 120 --stats "$RVS_RUN_DIR/decap-$rs.stats" >"$RVS_RUN_DIR/decap-$rs.log" 2>&1 &
    echo $! >"$RVS_RUN_DIR/decap-$rs.pid"
done
for rs in rs1 rs2; do lab_wait 10 "decap.py in $rs" grep -q ready "$RVS_RUN_DIR/decap-$rs.log"; done
lab_rvsadm -A -t "$SVC" -s rr
lab_rvsadm -a -t "$SVC" -r "$RS1_TUN_IP" -i
lab_rvsadm -a -t "$SVC" -r "$RS2_TUN_IP" -i
expect_ln "$(ln_svc Tunnel "$RS1_TUN_IP" 0 0 "$RS2_TUN_IP" 0 0)" "-Ln of the tunnel service"

conns=0
for spec in "ipip|--tun-type ipip|1480" "gre|--tun-type gre --tun-nocsum|1476" "gre-csum|--tun-type gre --tun-csum|1472" \
    "gue|--tun-type gue --tun-port $GUE_PORT --tun-nocsum|1468" "gue-csum|--tun-type gue --tun-port $GUE_PORT --tun-csum|1468" \
    "gue-remcsum|--tun-type gue --tun-port $GUE_PORT --tun-remcsum|1468"; do
    IFS='|' read -r name flags mtu <<<"$spec"
    for rip in "$RS1_TUN_IP" "$RS2_TUN_IP"; do
        # shellcheck disable=SC2086
        lab_rvsadm -e -t "$SVC" -r "$rip" -i $flags
    done
    s0=$(stats)
    assert_eq "1 1 0" "$(http_counts 2)" "rs1/rs2/failed pages through $name"
    s1=$(stats)
    d_in=$(delta "$s0" "$s1" lb_packets_in)
    d_tx3=$(delta "$s0" "$s1" "$PORT3_TX")
    d_arp=$(delta "$s0" "$s1" arp_requests)
    ((d_in >= 10)) || fail "$name: lb_packets_in grew by $d_in for 2 requests"
    assert_eq "$d_in" "$(delta "$s0" "$s1" "$PORT0_RX")" "$name: client port rx = load-balanced packets"
    assert_eq "$((d_in + d_arp))" "$d_tx3" "$name: router port tx = load-balanced packets + ARP requests"
    assert_eq 0 "$(delta "$s0" "$s1" "$PORT0_TX")" "$name: client port tx during 2 requests"
    assert_eq "$d_arp" "$(($(delta "$s0" "$s1" "$PORT1_TX") + $(delta "$s0" "$s1" "$PORT2_TX")))" \
        "$name: rs ports tx (ARP only)"
    # A 1 MiB upload: full-size segments with DF; rvsd answers fragmentation needed with the tunnel's MTU.
    lab_ns client ip route flush cache
    got_mtu=$(lab_ns client ip route get "$RVS_VIP" | grep -o 'mtu [0-9]*' || true)
    assert_eq "" "$got_mtu" "$name: the client's path MTU for the VIP after flushing the route cache"
    s0=$(stats)
    assert_eq 201 "$(put "$RVS_RUN_DIR/up.bin" "$name.bin")" "$name: upload status"
    s1=$(stats)
    # The only frames rvsd sends to the client: its fragmentation-needed answers.
    (($(delta "$s0" "$s1" "$PORT0_TX") >= 1)) || fail "$name: rvsd sent no fragmentation-needed to the client"
    assert_eq "$UP_SHA" "$(stored_sha "$name.bin")" "$name: sha256 of the stored upload"
    got_mtu=$(lab_ns client ip route get "$RVS_VIP" | grep -o 'mtu [0-9]*' || true)
    assert_eq "mtu $mtu" "$got_mtu" "$name: the client's path MTU for the VIP"
    conns=$((conns + 3))
    ok "tunnel $name: pages from rs1 and rs2 with nothing sent to the client, 1 MiB upload, path MTU $mtu"
done
assert_eq 0 "$(ctr "$(stats)" lb_packets_out)" "lb_packets_out after the tunnels"
assert_eq 0 "$(ctr "$(stats)" drop.tunnel_too_big)" "drop.tunnel_too_big"
# Every tunnel connection ended with the client's FIN: inactive, none active; rr split them evenly.
half=$((conns / 2))
expect_ln "$(ln_svc Tunnel "$RS1_TUN_IP" 0 "$half" "$RS2_TUN_IP" 0 "$half")" \
    "-Ln after $conns closed tunnel connections"
ok "tunnels: -Ln shows Tunnel 0/$half on each real server"

for rs in rs1 rs2; do
    lab_kill_pidfile "$RVS_RUN_DIR/decap-$rs.pid" 5
    lab_wait 5 "decap stats of $rs" test -s "$RVS_RUN_DIR/decap-$rs.stats"
    st=$(cat "$RVS_RUN_DIR/decap-$rs.stats")
    grep -q "bad=0" <<<"$st" || fail "decap.py in $rs saw bad packets: $st"
    for k in ipip gue gre; do grep -Eq "$k=[1-9]" <<<"$st" || fail "no $k packets decapsulated in $rs: $st"; done
    ok "$rs decapsulated: $st"
done
