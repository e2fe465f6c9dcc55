#!/usr/bin/env bash
# Observability: `-Lnc` lists live sessions from both lcores with ipvsadm's columns (an idle connection held
# open is ESTABLISHED, a finished curl is TIME_WAIT), and the dpip-style listings show the ports with per-lcore
# counters, the addresses, the routes (connected + one static route), the neighbour table (client and the real
# server that answered) and the FULLNAT local-port pools.
source "$(dirname "$0")/lib.sh"

# One static route in the config, to see it listed.
export RVS_LAB_EXTRA_CONF='[[route]]
dest = "10.20.0.0/16"
via = "10.10.1.2"
port = "rs1"'

# The columns of one -Lnc row re-printed with ipvsadm's format: equal to the row iff the columns are right.
conn_row_ok() { # conn_row_ok LINE
    local pro exp st src vip dst
    read -r pro exp st src vip dst <<<"$1"
    [[ "$(printf '%-3s %-6s %-11s %-18s %-18s %s' "$pro" "$exp" "$st" "$src" "$vip" "$dst")" == "$1" ]]
}

lab_up 2 nat
http_service rr -m

# An idle connection held open (nginx waits 60 s for the request): ESTABLISHED.
(sleep 5 | lab_ns client timeout 8 socat -T 8 - "TCP4:$RVS_VIP:$HTTP_VIP_PORT" >/dev/null 2>&1) &
held=$!
# A finished request: TIME_WAIT (its rs is the one the neighbour table must show).
page=$(http_get)
[[ "$page" == rs1 || "$page" == rs2 ]] || fail "curl through the VIP answered [$page]"
sleep 0.5

conns=$(lab_rvsadm -Lnc)
echo "$conns"
assert_eq "IPVS connection entries" "$(sed -n 1p <<<"$conns")" "-Lnc title"
assert_eq "pro expire state       source             virtual            destination" \
    "$(sed -n 2p <<<"$conns")" "-Lnc header"
rs_re='10\.10\.(1\.2:8998|2\.2:8999)'
est=$(grep -E "^TCP 1[45]:[0-9]{2}  ESTABLISHED 10\.10\.0\.2:[0-9]+ +10\.10\.0\.100:8990 +$rs_re\$" <<<"$conns" || true)
tw=$(grep -E "^TCP 0[0-2]:[0-9]{2}  TIME_WAIT   10\.10\.0\.2:[0-9]+ +10\.10\.0\.100:8990 +$rs_re\$" <<<"$conns" || true)
[[ $(wc -l <<<"$est") == 1 && -n "$est" ]] || fail "no single ESTABLISHED entry in -Lnc"
[[ -n "$tw" ]] || fail "no TIME_WAIT entry in -Lnc"
conn_row_ok "$est" || fail "ESTABLISHED row columns: [$est]"
conn_row_ok "$(head -n1 <<<"$tw")" || fail "TIME_WAIT row columns: [$tw]"
assert_eq 2 "$(($(wc -l <<<"$conns") - $(grep -c '^TCP ' <<<"$conns")))" "-Lnc lines besides sessions"
ok "-Lnc: ESTABLISHED and TIME_WAIT rows with ipvsadm's columns"
wait "$held" 2>/dev/null || true

# Neighbours: the client and the real server that answered, each with its namespace's MAC, on every lcore.
neigh=$(lab_rvsadm --show-neigh)
echo "$neigh"
client_mac=$(lab_ns client cat "/sys/class/net/$RVS_TAP_CLIENT/address")
if [[ $page == rs1 ]]; then rs_ip=$RVS_RS1_IP tap=$RVS_TAP_RS1; else rs_ip=$RVS_RS2_IP tap=$RVS_TAP_RS2; fi
rs_mac=$(lab_ns "$page" cat "/sys/class/net/$tap/address")
for lcore in 1 2; do
    grep -qx "10.10.0.2 dev client lladdr $client_mac REACHABLE lcore $lcore" <<<"$neigh" ||
        fail "--show-neigh: no REACHABLE client entry on lcore $lcore"
    grep -qx "$rs_ip dev $page lladdr $rs_mac REACHABLE lcore $lcore" <<<"$neigh" ||
        fail "--show-neigh: no REACHABLE $page entry on lcore $lcore"
done
ok "--show-neigh: client $client_mac and $page $rs_mac on both lcores"

expected="10.10.0.1/24       port  client
10.10.1.1/24       port  rs1
10.10.2.1/24       port  rs2
10.10.0.100/32     vip   client"
assert_text "$expected" "$(lab_rvsadm --show-addrs)" "--show-addrs"
expected="10.10.0.0/24 dev client connected
10.10.1.0/24 dev rs1 connected
10.10.2.0/24 dev rs2 connected
10.20.0.0/16 via 10.10.1.2 dev rs1 static"
assert_text "$expected" "$(lab_rvsadm --show-routes)" "--show-routes"
ok "--show-addrs and --show-routes"

links=$(lab_rvsadm --show-links)
echo "$links"
# (net_tap reads its link state from the kernel interface in rvsd's namespace: once the lab moved that interface
# into another namespace, the PMD reports the link down. Real NICs report their carrier.)
for p in "0 client" "1 rs1" "2 rs2"; do
    grep -qE "^port $p: link (up|down) speed [0-9]+ mtu 1500 mac ([0-9a-f]{2}:){5}[0-9a-f]{2} device net_tap" <<<"$links" ||
        fail "--show-links: no line for port $p"
done
assert_eq 6 "$(grep -cE '^  lcore [12] rx_packets [0-9]+ tx_packets [0-9]+ tx_dropped 0$' <<<"$links")" \
    "--show-links per-lcore lines (3 ports x 2 lcores)"
# Per-lcore rx on the client port adds up to at most the device's count (ARP/ICMP too), and is > 0.
dev_rx=$(awk '/^port 0 /{f=1; next} f && /rx_packets/{for (i=1;i<NF;i++) if ($i=="rx_packets") {print $(i+1); exit}}' <<<"$links")
lc_rx=$(awk '/^port 0 /{f=1; next} /^port 1 /{f=0} f && $1=="lcore" {s+=$4} END {print s+0}' <<<"$links")
((lc_rx > 0 && lc_rx <= dev_rx)) || fail "client port: lcores rx $lc_rx, device rx $dev_rx"
ok "--show-links: 3 ports, per-lcore counters (client rx $lc_rx of $dev_rx)"

# Local-port pools through FULLNAT: each lcore owns half of 1024..65535 for each local address.
lab_mode fullnat
lab_rvsadm -C
http_service rr --fullnat
page=$(http_get)
[[ "$page" == rs1 || "$page" == rs2 ]] || fail "FULLNAT curl answered [$page]"
pools=$(lab_rvsadm --show-laddr-pools)
echo "$pools"
assert_eq "LADDR            LCORE  FREE     USED" "$(head -n1 <<<"$pools")" "--show-laddr-pools header"
assert_eq "10.10.9.1 1|10.10.9.1 2|10.10.9.2 1|10.10.9.2 2" \
    "$(awk 'NR > 1 { printf "%s%s %s", (NR > 2 ? "|" : ""), $1, $2 }' <<<"$pools")" "pools listed"
awk 'NR > 1 && $3 + $4 != 32256 { bad = 1 } END { exit bad }' <<<"$pools" || fail "free + used != 32256"
# One FULLNAT connection (in TIME_WAIT now) holds one local port.
used=$(awk 'NR > 1 { s += $4 } END { print s }' <<<"$pools")
assert_eq 1 "$used" "local ports in use after one FULLNAT curl"
ok "--show-laddr-pools: 2 addresses x 2 lcores, $used port(s) in use"

# -R through rvsd: consecutive rule lines travel as one batch; a refused line in the middle is reported and the
# others still apply; the status is the last line's.
lab_rvsadm -C
set +e
err=$(printf '%s\n' "-A -u $RVS_VIP:7000 -s rr" "-A -u $RVS_VIP:7000 -s wlc" "-a -u $RVS_VIP:7000 -r $RVS_RS1_IP:7000 -m" \
    "-a -u $RVS_VIP:7001 -r $RVS_RS1_IP:7000 -m" "-A -u $RVS_VIP:7001" | lab_rvsadm -R 2>&1 >/dev/null)
rc=$?
set -e
assert_eq 0 "$rc" "restore status (last line applied)"
assert_text "Service already exists
Service not defined" "$err" "restore refusals"
expected="-A -u 10.10.0.100:7000 -s rr
-a -u 10.10.0.100:7000 -r 10.10.1.2:7000 -m -w 1
-A -u 10.10.0.100:7001 -s wlc"
assert_text "$expected" "$(lab_rvsadm -S -n)" "rules after the batched restore"
ok "-R batch: refusals reported in order, the rest applied"
