#!/usr/bin/env bash
# SYN proxy (issue 7 item 4). (1) `synproxy = "on"`: every connection through a NAT and then a FULLNAT service is
# proxied (SYN cookie, then the proxy's own handshake with the real server and shifted sequence numbers): pages,
# a 4 MiB download and a 4 MiB echo (upload and download at once) through socat come back intact, and the
# counters say every connection was proxied. (2) `synproxy = "auto"` with a small session table: a bounded SYN
# flood with random sources (tests/e2e/synflood.py, scapy-built, through a raw socket) at the VIP engages the
# proxy; curl from another client address keeps succeeding during the flood; live sessions stay far below the
# flood count; cookies and unroutable SYN-ACKs are counted; after the flood the half-open sessions expire and the
# proxy disengages by itself.
source "$(dirname "$0")/lib.sh"

ECHO_PORT=7000
FLOOD_COUNT=20000
FLOOD_RATE=4000
THRESHOLD=32
SYNFLOOD="$(cd "$(dirname "$0")" && pwd)/synflood.py"

# lab_up with extra [dataplane] keys: lab_up_with MODE KEY=VALUE-LINES...
lab_up_with() {
    local mode=$1 line
    shift
    lab_init
    mkdir -p "$RVS_RUN_DIR"
    lab_write_config 1
    for line in "$@"; do
        case $line in
        max_sessions*) sed -i "s/^max_sessions = .*/$line/" "$RVS_CONF" ;;
        *) sed -i "/^max_sessions = /a $line" "$RVS_CONF" ;;
        esac
    done
    lab_start_rvsd || fail "rvsd did not start"
    lab_setup_namespaces "$mode"
    lab_wait 15 "client to resolve 10.10.0.1" lab_reach client 10.10.0.1
    lab_wait 15 "rs1 to resolve 10.10.1.1" lab_reach rs1 10.10.1.1
    lab_wait 15 "rs2 to resolve 10.10.2.1" lab_reach rs2 10.10.2.1
}

# Sum of counter NAME over the lcores.
counter() { dp_counter "$(lab_rvsadm --dp-stats)" "$1" | awk '{ s += $2 } END { print s + 0 }'; }

# A TCP echo server (socat, cat) in rs1 on ECHO_PORT.
echo_server() {
    nsenter --net="/run/netns/${RVS_PREFIX}rs1" socat -T 30 -t 30 \
        "TCP4-LISTEN:$ECHO_PORT,bind=$RVS_RS1_IP,reuseaddr,fork" EXEC:cat >"$RVS_RUN_DIR/echo.log" 2>&1 &
    echo $! >"$RVS_RUN_DIR/echo.pid"
    lab_wait 10 "the echo server" lab_ns rs1 bash -c "ss -ltn | grep -q ':$ECHO_PORT '"
}

# 4 MiB through the echo service; the echo must be the same bytes.
check_echo() { # check_echo WHAT
    local got want
    want=$(cat "$RVS_RUN_DIR/big.sha256")
    got=$(lab_ns client timeout 60 socat -T 20 -t 20 - "TCP4:$RVS_VIP:$ECHO_PORT" <"$RVS_RUN_DIR/big.bin" |
        sha256sum | cut -d' ' -f1)
    assert_eq "$want" "$got" "$1: sha256 of the 4 MiB echo"
}

# Services: the two-dest HTTP service and the echo service on rs1, with FWD (-m or --fullnat).
services() { # services FWD
    lab_rvsadm -C
    http_service rr "$1"
    lab_rvsadm -A -t "$RVS_VIP:$ECHO_PORT" -s rr
    lab_rvsadm -a -t "$RVS_VIP:$ECHO_PORT" -r "$RVS_RS1_IP:$ECHO_PORT" "$1"
    if [[ "$1" == --fullnat ]]; then
        lab_rvsadm --add-laddr -z "$RVS_LADDR1" -t "$RVS_VIP:$ECHO_PORT"
    fi
}

# ---- (1) synproxy = "on": NAT, then FULLNAT.
lab_up_with nat 'synproxy = "on"'
sed 's/\x1b\[[0-9;]*m//g' "$RVS_RUN_DIR/rvsd.log" | grep -q 'SYN proxy mode=On' || fail "rvsd did not log the SYN proxy mode"
echo_server
for fwd in -m --fullnat; do
    if [[ $fwd == --fullnat ]]; then lab_mode fullnat; else lab_mode nat; fi
    services "$fwd"
    sent0=$(counter synproxy_cookies_sent) valid0=$(counter synproxy_cookies_valid)
    est0=$(counter synproxy_established) bad0=$(counter drop.synproxy_bad_cookie)
    read -r rs1 rs2 other <<<"$(http_counts 20)"
    assert_eq "10 10 0" "$rs1 $rs2 $other" "$fwd: rr over 20 proxied connections"
    check_big_download "$VIP_URL" "$fwd proxied"
    check_echo "$fwd proxied"
    # 20 pages + 1 download + 1 echo: 22 connections, each answered with a cookie and proxied.
    sent=$(($(counter synproxy_cookies_sent) - sent0))
    valid=$(($(counter synproxy_cookies_valid) - valid0))
    est=$(($(counter synproxy_established) - est0))
    ((sent >= 22)) || fail "$fwd: $sent cookies sent for 22 connections"
    assert_eq 22 "$valid" "$fwd: valid cookies"
    assert_eq 22 "$est" "$fwd: proxied sessions established"
    assert_eq "$bad0" "$(counter drop.synproxy_bad_cookie)" "$fwd: drop.synproxy_bad_cookie"
    assert_eq 1 "$(counter synproxy_engaged)" "$fwd: synproxy_engaged in mode on"
    if [[ $fwd == --fullnat ]]; then
        src=$(rs_sources rs1 | tail -n1)
        [[ "$src" == "$RVS_LADDR1" || "$src" == "$RVS_LADDR2" ]] || fail "FULLNAT: rs1 saw source [$src]"
    fi
    ok "mode on, $fwd: 20 pages, 4 MiB download and 4 MiB echo intact; 22 connections proxied (cookies sent $sent)"
done
lab_down

# ---- (2) synproxy = "auto", small table, bounded SYN flood with random sources.
lab_up_with nat 'max_sessions = 1024' 'synproxy = "auto"' "synproxy_threshold = $THRESHOLD"
http_service rr -m
# The flood's first SYNs reach the real servers (before the proxy engages); each real server retries its
# SYN-ACK to the forged source once (the kernel default, 5, would keep those half-open sessions refreshed
# for about 90 s instead of 60).
for rs in rs1 rs2; do lab_ns "$rs" sysctl -qw net.ipv4.tcp_synack_retries=1; done
lab_ns client ip addr add 10.10.0.3/24 dev "$RVS_TAP_CLIENT"
from3() { lab_ns client curl -s --connect-timeout 5 --max-time 8 --interface 10.10.0.3 -H 'Connection: close' "$VIP_URL/" || true; }
page_ok() { [[ "$1" == rs1 || "$1" == rs2 ]]; }
page_ok "$(from3)" || fail "no page before the flood"
assert_eq 0 "$(counter synproxy_engaged)" "engaged before the flood"
sent0=$(counter synproxy_cookies_sent) noroute0=$(counter drop.no_route)
start=$(date +%s)
lab_ns client /usr/bin/python3 "$SYNFLOOD" "$RVS_VIP" "$HTTP_VIP_PORT" "$FLOOD_COUNT" "$FLOOD_RATE" \
    >"$RVS_RUN_DIR/flood.out" 2>"$RVS_RUN_DIR/flood.err" &
flood=$!
sleep 1
curls=0 max_live=0
while kill -0 "$flood" 2>/dev/null && ((curls < 100)); do
    page=$(from3)
    page_ok "$page" || fail "curl $((curls + 1)) during the flood failed ([$page])"
    curls=$((curls + 1))
    live=$(counter sessions_live)
    ((live > max_live)) && max_live=$live
done
wait "$flood" || fail "the flood tool failed: $(cat "$RVS_RUN_DIR/flood.err")"
flooded=$(cat "$RVS_RUN_DIR/flood.out")
((curls >= 5)) || fail "only $curls curls ran during the flood"
((flooded == FLOOD_COUNT)) || fail "the flood sent $flooded of $FLOOD_COUNT SYNs"
cookies=$(($(counter synproxy_cookies_sent) - sent0))
noroute=$(($(counter drop.no_route) - noroute0))
live=$(counter sessions_live)
((live > max_live)) && max_live=$live
((cookies >= FLOOD_COUNT / 2)) || fail "only $cookies cookies for $flooded flood SYNs"
((noroute >= cookies / 2)) || fail "SYN-ACKs to the forged sources: only $noroute counted drop.no_route"
(($(counter synproxy_engagements) >= 1)) || fail "the proxy never engaged"
# Bounded: the half-open sessions the flood made before the proxy engaged, plus the curls' own sessions.
bound=$((THRESHOLD + curls + 16))
((max_live <= bound)) || fail "live sessions reached $max_live (bound $bound) under a flood of $flooded SYNs"
assert_eq 0 "$(counter drop.session_table_full)" "drop.session_table_full"
ok "flood of $flooded SYNs in $(($(date +%s) - start)) s: $curls curls all served, at most $max_live live sessions, $cookies cookies, $noroute SYN-ACKs unroutable"

# After the flood: the half-open sessions expire (SYN_RECV, 60 s) and the proxy disengages by itself.
lab_log "waiting for the half-open sessions to expire"
lab_wait 75 "the half-open sessions to expire and the proxy to disengage" \
    bash -c "[[ \$('$RVSADM' --socket '$RVS_SOCK' --dp-stats | awk '\$3 == \"synproxy_half_open\" || \$3 == \"synproxy_engaged\" { s += \$4 } END { print s + 0 }') == 0 ]]"
page_ok "$(from3)" || fail "no page after the flood"
live=$(counter sessions_live)
((live <= curls + 2)) || fail "$live sessions live after the half-open ones expired (curls: $curls)"
ok "after the flood: half-open sessions expired, proxy disengaged, $live sessions live (the curls' TIME_WAIT)"
