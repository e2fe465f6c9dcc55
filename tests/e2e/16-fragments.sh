#!/usr/bin/env bash
# Fragments (policy in dataplane/src/frag.rs and docs/hardening.md): large UDP datagrams (4,000 and 30,000 bytes,
# MTU 1500, so the client's and the real servers' kernels fragment them) go through the VIP by NAT and by FULLNAT,
# with two workers and then with one, to a UDP echo server in each real-server namespace (tests/e2e/frag_udp.py).
# Each server receives every datagram whole (same sha256; from the client for NAT, from a local address for
# FULLNAT), and its fragmented echo comes back through rvsd whole to the client. The dataplane counters show
# exactly the expected fragments translated (both ways), no drop of any kind, misowned_packets 0; curl through the
# VIP works all along.
source "$(dirname "$0")/lib.sh"

FRAG_PORT=9100
SIZES=(4000 30000)
COUNT=2
PY=/usr/bin/python3
FRAG_PY="$(cd "$(dirname "$0")" && pwd)/frag_udp.py"

# Fragments of a UDP datagram of N payload bytes on a 1500-byte MTU (1480 bytes of IP payload each).
frags_of() { echo $((($1 + 8 + 1479) / 1480)); }

sum_counter() { dp_counter "$1" "$2" | awk '{ s += $2 } END { print s + 0 }'; }
drop_lines() { awk '$1 == "lcore" && $3 ~ /^drop\./ { s[$3] += $4 } END { for (k in s) print k, s[k] }' <<<"$1" | sort; }

start_servers() {
    local rs ip
    for rs in rs1 rs2; do
        [[ $rs == rs1 ]] && ip=$RVS_RS1_IP || ip=$RVS_RS2_IP
        nsenter --net="/run/netns/${RVS_PREFIX}$rs" "$PY" "$FRAG_PY" serve --bind "$ip" --port "$FRAG_PORT" \
            --log "$RVS_RUN_DIR/frag-$rs.log" --lifetime 300 >"$RVS_RUN_DIR/frag-$rs.out" 2>&1 &
        echo $! >"$RVS_RUN_DIR/frag-$rs.pid"
    done
    lab_wait 10 "UDP echo in rs1" sh -c "ip netns exec ${RVS_PREFIX}rs1 ss -Hlun | grep -q ':$FRAG_PORT'"
    lab_wait 10 "UDP echo in rs2" sh -c "ip netns exec ${RVS_PREFIX}rs2 ss -Hlun | grep -q ':$FRAG_PORT'"
}

# One round: mode nat|fullnat, worker count (for the messages).
frag_round() {
    local mode=$1 workers=$2 flag src
    lab_rvsadm -C
    lab_mode "$mode"
    [[ $mode == nat ]] && flag=-m || flag=--fullnat
    http_service rr "$flag"
    lab_rvsadm -A -u "$RVS_VIP:$FRAG_PORT" -s rr
    lab_rvsadm -a -u "$RVS_VIP:$FRAG_PORT" -r "$RVS_RS1_IP:$FRAG_PORT" "$flag"
    lab_rvsadm -a -u "$RVS_VIP:$FRAG_PORT" -r "$RVS_RS2_IP:$FRAG_PORT" "$flag"
    if [[ $mode == fullnat ]]; then
        lab_rvsadm --add-laddr -z "$RVS_LADDR1" -u "$RVS_VIP:$FRAG_PORT"
        lab_rvsadm --add-laddr -z "$RVS_LADDR2" -u "$RVS_VIP:$FRAG_PORT"
    fi
    # Both real servers answered (rvsd has resolved them) before the datagrams go (rr per lcore: a few tries).
    local pages="" i
    for i in 1 2 3 4 5 6 7 8; do pages="$pages $(http_get)"; done
    assert_eq "rs1 rs2" "$(xargs -n1 <<<"$pages" | sort -u | xargs)" "pages before ($mode)"
    : >"$RVS_RUN_DIR/frag-rs1.log"
    : >"$RVS_RUN_DIR/frag-rs2.log"
    rm -f "$RVS_RUN_DIR/stop-curl"
    (
        good=0 bad=0 end=$((SECONDS + 60))
        while [[ ! -e "$RVS_RUN_DIR/stop-curl" ]] && ((SECONDS < end)); do
            page=$(http_get)
            if [[ "$page" == rs1 || "$page" == rs2 ]]; then good=$((good + 1)); else bad=$((bad + 1)); fi
            sleep 0.1
        done
        echo "$good $bad" >"$RVS_RUN_DIR/curl-during"
    ) &
    local curl_loop=$! before after rc=0
    before=$(lab_rvsadm --dp-stats)
    lab_ns client timeout 60 "$PY" "$FRAG_PY" send --host "$RVS_VIP" --port "$FRAG_PORT" --count "$COUNT" \
        "${SIZES[@]}" >"$RVS_RUN_DIR/frag-client.out" 2>&1 || rc=$?
    # The counters are read once both ways are done (the client has every answer).
    after=$(lab_rvsadm --dp-stats)
    touch "$RVS_RUN_DIR/stop-curl"
    wait "$curl_loop" || true
    cat "$RVS_RUN_DIR/frag-client.out" >&2
    ((rc == 0)) || fail "$mode, $workers worker(s): datagrams did not come back whole"

    # Every datagram reached a real server whole, from the right source.
    [[ $mode == nat ]] && src="^$RVS_CLIENT_IP\$" || src="^10\.10\.9\.[12]\$"
    local sent got srcs
    sent=$(awk '$1 == "sent" { print $2, $3 }' "$RVS_RUN_DIR/frag-client.out" | sort)
    got=$(cat "$RVS_RUN_DIR/frag-rs1.log" "$RVS_RUN_DIR/frag-rs2.log" | awk '{ print $1, $2 }' | sort)
    assert_text "$sent" "$got" "$mode, $workers worker(s): datagrams (length sha256) the real servers received"
    srcs=$(cat "$RVS_RUN_DIR/frag-rs1.log" "$RVS_RUN_DIR/frag-rs2.log" | awk '{ print $3 }' | grep -cv -E "$src" || true)
    assert_eq 0 "$srcs" "$mode: datagrams from an unexpected source ($(awk '{ print $3 }' "$RVS_RUN_DIR"/frag-rs?.log | sort -u | xargs))"

    local per=0 size
    for size in "${SIZES[@]}"; do per=$((per + $(frags_of "$size"))); done
    local want=$((2 * COUNT * per))
    assert_eq "$want" $(($(sum_counter "$after" frag_translated) - $(sum_counter "$before" frag_translated))) \
        "$mode, $workers worker(s): fragments translated (both ways)"
    assert_eq "$(drop_lines "$before")" "$(drop_lines "$after")" "$mode, $workers worker(s): drop counters"
    assert_eq 0 "$(sum_counter "$after" misowned_packets)" "misowned_packets"
    assert_eq 0 "$(sum_counter "$after" frag_held_live)" "fragments still held"
    read -r good bad <"$RVS_RUN_DIR/curl-during"
    ((bad == 0 && good >= 1)) || fail "curl during the datagrams ($mode): $good good, $bad failed"
    ok "$mode, $workers worker(s): $((2 * COUNT)) datagrams of ${SIZES[*]} bytes whole both ways, $want fragments" \
        "translated, no drop; curl $good/$good"
}

lab_up 2 nat
start_servers
frag_round nat 2
frag_round fullnat 2
handoff=$(sum_counter "$(lab_rvsadm --dp-stats)" handoff_in)
((handoff > 0)) || fail "no hand-off between the two workers"
ok "two workers: hand-offs $handoff, misowned_packets 0"
lab_down

lab_up 1 nat
start_servers
frag_round nat 1
frag_round fullnat 1
