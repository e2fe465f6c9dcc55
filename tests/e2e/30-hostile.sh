#!/usr/bin/env bash
# Hostile frames: tests/e2e/hostile.py sends more than 60 kinds of malformed or abusive frames from the client
# namespace to the VIP and to rvsd's own address (truncated and inconsistent headers, bad checksums, IP options,
# fragments, martian sources, TTL 0/1, crafted TCP flags, VLAN, oversized frames, ICMP errors with garbage,
# ARP spoofing of the VIP, of rvsd and of a real server...). Each kind moves exactly its own drop.<reason>
# counter by the number of frames sent and no other drop counter; no hostile frame reaches a real server
# (tcpdump in both rs namespaces) while the valid control SYN does; rvsd's neighbour table keeps the real servers'
# MACs and learns nothing from the spoofed ARP; curl through the VIP keeps working during and after the suite.
source "$(dirname "$0")/lib.sh"

lab_up 1 nat
http_service rr -m
lab_rvsadm -A -u "$RVS_VIP:$RVS_UDP_PORT" -s rr
lab_rvsadm -a -u "$RVS_VIP:$RVS_UDP_PORT" -r "$RVS_RS1_IP:$RVS_UDP_PORT" -m
# Both real servers answered once: rvsd has resolved them.
assert_eq "rs1 rs2" "$(printf '%s\n' "$(http_get)" "$(http_get)" | sort | xargs)" "pages before the suite"
rvsd_mac=$(lab_ns client ip neigh show 10.10.0.1 | awk '/lladdr/ { print $5; exit }')
[[ -n "$rvsd_mac" ]] || fail "the client has not resolved rvsd's address"
neigh_rs() { lab_rvsadm --show-neigh | awk -v a="$1" '$1 == a { print $3, $5 }' | sort -u | xargs; }
rs1_before=$(neigh_rs "$RVS_RS1_IP")
rs2_before=$(neigh_rs "$RVS_RS2_IP")
[[ "$rs1_before" == "rs1 "* && "$rs2_before" == "rs2 "* ]] || fail "neighbours before: [$rs1_before] [$rs2_before]"

# Everything IP that reaches a real server, except curl's own connections (client ports 32768-60999).
for rs in rs1 rs2; do
    tap=$RVS_TAP_RS1
    [[ $rs == rs2 ]] && tap=$RVS_TAP_RS2
    nsenter --net="/run/netns/${RVS_PREFIX}$rs" tcpdump -i "$tap" -n -U -w "$RVS_RUN_DIR/cap-$rs.pcap" \
        "ip and not (tcp and host $RVS_CLIENT_IP and portrange 32768-60999)" 2>"$RVS_RUN_DIR/tcpdump-$rs.log" &
    echo $! >"$RVS_RUN_DIR/tcpdump-$rs.pid"
done
lab_wait 10 "tcpdump in rs1" grep -q listening "$RVS_RUN_DIR/tcpdump-rs1.log"
lab_wait 10 "tcpdump in rs2" grep -q listening "$RVS_RUN_DIR/tcpdump-rs2.log"

# curl through the VIP during the whole suite (bounded: 150 s at most).
(
    good=0 bad=0 end=$((SECONDS + 150))
    while [[ ! -e "$RVS_RUN_DIR/stop-curl" ]] && ((SECONDS < end)); do
        page=$(http_get)
        if [[ "$page" == rs1 || "$page" == rs2 ]]; then good=$((good + 1)); else bad=$((bad + 1)); fi
        sleep 0.2
    done
    echo "$good $bad" >"$RVS_RUN_DIR/curl-during"
) &
curl_loop=$!

suite_rc=0
lab_ns client /usr/bin/python3 "$(dirname "$0")/hostile.py" --iface "$RVS_TAP_CLIENT" --rvsd-mac "$rvsd_mac" \
    --rvsadm "$RVSADM" --socket "$RVS_SOCK" | tee "$RVS_RUN_DIR/hostile.out" || suite_rc=$?
touch "$RVS_RUN_DIR/stop-curl"
wait "$curl_loop" || true
sleep 0.5
lab_kill_pidfile "$RVS_RUN_DIR/tcpdump-rs1.pid" 5
lab_kill_pidfile "$RVS_RUN_DIR/tcpdump-rs2.pid" 5
((suite_rc == 0)) || fail "hostile.py: $(grep -c '^FAIL' "$RVS_RUN_DIR/hostile.out") kind(s) failed (see above)"
kinds=$(grep -c '^ok' "$RVS_RUN_DIR/hostile.out")
((kinds >= 30)) || fail "only $kinds kinds ran"
ok "$kinds kinds of hostile frames dropped under their own counters, no other drop counter moved"

read -r good bad <"$RVS_RUN_DIR/curl-during"
((bad == 0 && good >= 5)) || fail "curl during the suite: $good good, $bad failed"
ok "curl through the VIP during the suite: $good requests, none failed"
assert_eq "rs1 rs2" "$(printf '%s\n' "$(http_get)" "$(http_get)" | sort | xargs)" "pages after the suite"
ok "curl through the VIP after the suite"

leaks() { tcpdump -n -r "$RVS_RUN_DIR/cap-$1.pcap" "$2" 2>/dev/null | wc -l; }
for rs in rs1 rs2; do
    n=$(leaks "$rs" "not port 5999")
    ((n == 0)) || {
        tcpdump -n -r "$RVS_RUN_DIR/cap-$rs.pcap" "not port 5999" 2>/dev/null | head -n 20 >&2
        fail "$n hostile packet(s) reached $rs"
    }
done
control=$(($(leaks rs1 "tcp src port 5999 and tcp[tcpflags] == tcp-syn") + $(leaks rs2 "tcp src port 5999 and tcp[tcpflags] == tcp-syn")))
((control >= 1)) || fail "the valid control SYN did not reach a real server (the captures see nothing?)"
ok "no hostile packet reached a real server; the valid control SYN did ($control)"

assert_eq "$rs1_before" "$(neigh_rs "$RVS_RS1_IP")" "rvsd's neighbour entry for rs1"
assert_eq "$rs2_before" "$(neigh_rs "$RVS_RS2_IP")" "rvsd's neighbour entry for rs2"
assert_eq "" "$(neigh_rs "$RVS_VIP")" "a neighbour entry for the VIP"
assert_eq "" "$(neigh_rs 10.10.0.1)" "a neighbour entry for rvsd's own address"
ok "spoofed ARP learnt nothing: real servers keep their MACs, no entry for the VIP or rvsd"
