#!/usr/bin/env bash
# Soak: bounded load through two VIPs for SOAK_SECONDS (default 60; `make soak` runs 600) while a churn loop adds
# real servers, sets them to weight 0, re-weights them and removes them every SOAK_CHURN_S seconds (default 3).
#
# Lab: rvsd with 2 workers; a NAT service VIP:8990 (wrr) and a FULLNAT one VIP:8991 (wlc, two local addresses);
# a pool of 8 real nginx servers (10.10.1.2:9101-9104, 10.10.2.2:9201-9204), each answering with its own id
# ("p<port>"), each closing a keep-alive connection after 500 requests (so a client is rescheduled now and then),
# each logging the first request of every connection (one line per TCP connection).
# Load, all bounded in time and count: per service one wrk (1 thread, 2 keep-alive connections) and two curl
# loops (Connection: close, a new connection per request, 20 requests/s each, -w prints the answering server's id
# and the status). The client's ephemeral port range is widened, but Linux picks ports at random: some client ports
# are reused within TIME_WAIT's 120 s, and rvsd must treat such a SYN as a new connection (it ends the closed
# session and schedules afresh, as the kernel's conn_reuse_mode 1): one session per connection still.
#
# Removal is done by draining, so the assertion is strict: a server is removed only after it was set to weight 0
# at an earlier churn step and then every session bound to it in `rvsadm -Lnc` is closed (TIME_WAIT or CLOSE: both
# FINs or a RST seen, no request can still be in flight on it), waiting at most 20 s. Hence no request may fail at
# all: every curl answers 200 with a server id, wrk reports no socket error and no non-2xx answer, and no drop
# counter of rvsd moves during the run (dest_deleted included: no packet ever reaches a session of a removed
# server). There is always at least one server of positive weight in each service (no_dest stays 0).
#
# At the end (load stopped, timeouts shortened with `--set 20 5 10`): every remaining session is TIME_WAIT (the
# state's 120 s timeout is fixed, as in IPVS, and is not one `--set` changes), but for at most one per wrk
# connection and none ESTABLISHED (a connection wrk opened as it stopped stays SYN_RECV), and every dest has
# ActiveConn 0;
# the residue is consistent across rvsd's views (sessions_live = created - expired; while no TIME_WAIT session has
# expired yet, i.e. in runs under ~110 s, also -Lnc rows = sessions_live); sessions_created equals the TCP
# connections the real servers logged (plus at most one per wrk connection: one opened while wrk stopped, before its
# request); `rvsadm -Ln` equals the listing the churn loop's own bookkeeping predicts (members, weights, ActiveConn
# 0, and in runs under ~110 s InActConn = that dest's rows in -Lnc, the other rows belonging to removed dests; in
# longer runs InActConn is checked once the residue expired, below). Memory: rvsd's
# RSS at the end of the load exceeds its RSS at the end of the warm-up (10 s; 150 s in runs of 300 s and more, when
# the TIME_WAIT residue has reached its steady size) by at most SOAK_RSS_SLACK_KB (2048) plus
# SOAK_RSS_PER_SESSION_B (1024) bytes per session the table grew by meanwhile. Why: the session table, its index and
# the mbuf pool are allocated and touched at start (3000 then 6000 sessions leave the RSS unchanged to the kB), but
# listing N sessions (-Lnc, once per drain here) leaves the allocator holding about 0.5 kB per session listed;
# a leak per request, per churn step or per connection (hundreds of thousands of each) would exceed that. When
# SOAK_SECONDS >= 300 (the `make soak` run) it then waits for the TIME_WAIT residue to expire (at most 135 s) and
# asserts zero sessions, the listing with zero connections everywhere, unchanged drop counters, and an RSS no
# higher than when the load stopped.
# The figures (requests, failures, sessions, RSS) are printed on the last line, prefixed "soak:".
source "$(dirname "$0")/lib.sh"

SOAK_SECONDS=${SOAK_SECONDS:-60}
SOAK_CHURN_S=${SOAK_CHURN_S:-3}
SOAK_RSS_SLACK_KB=${SOAK_RSS_SLACK_KB:-2048}
SOAK_RSS_PER_SESSION_B=${SOAK_RSS_PER_SESSION_B:-1024}
((SOAK_SECONDS >= 20 && SOAK_SECONDS <= 3600)) || fail "SOAK_SECONDS must be 20..3600, not $SOAK_SECONDS"
# Warm-up: 10 s; in runs of 300 s and more, 150 s: the TIME_WAIT residue (120 s) has reached its steady size.
WARMUP=$((SOAK_SECONDS >= 300 ? 150 : 10))
NAT_PORT=8990
FNAT_PORT=8991
CURL_RATE=20 # requests per second per curl loop
SEED=${SOAK_SEED:-$((RANDOM))}
RANDOM=$SEED

# The pool: port -> address (the id a server answers with is p<port>).
declare -A POOL_IP=([9101]=$RVS_RS1_IP [9102]=$RVS_RS1_IP [9103]=$RVS_RS1_IP [9104]=$RVS_RS1_IP
    [9201]=$RVS_RS2_IP [9202]=$RVS_RS2_IP [9203]=$RVS_RS2_IP [9204]=$RVS_RS2_IP)
POOL_PORTS=(9101 9102 9103 9104 9201 9202 9203 9204)

# nginx for one pool server: soak_nginx NS PORT
soak_nginx() {
    local ns=$1 port=$2 ip=${POOL_IP[$2]} d="$RVS_RUN_DIR/soak-nginx-$2"
    mkdir -p "$d/www" "$d/tmp" "$d/logs"
    printf 'p%s' "$port" >"$d/www/index.html"
    cat >"$d/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon on;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
events { worker_connections 1024; }
http {
    default_type text/plain;
    map \$connection_requests \$first_request { 1 1; default 0; }
    log_format conn '\$remote_addr \$remote_port \$connection \$status';
    access_log $d/logs/conns.log conn if=\$first_request;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    keepalive_timeout 10s;
    keepalive_requests 500;
    server {
        listen $ip:$port;
        root $d/www;
        index index.html;
    }
}
EOF
    lab_ns "$ns" nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"
    lab_wait 10 "nginx p$port" test -s "$d/nginx.pid"
}

# Churn bookkeeping, per service port: "<rs port>" -> weight (members only).
declare -A W_NAT=() W_FNAT=()
svc_fwd() { [[ $1 == "$NAT_PORT" ]] && echo -m || echo --fullnat; }
svc_forward_name() { [[ $1 == "$NAT_PORT" ]] && echo Masq || echo FullNat; }
# Print "port weight" lines of service SVC's members.
members() { # members SVC
    local -n m="W_$([[ $1 == "$NAT_PORT" ]] && echo NAT || echo FNAT)"
    local p
    for p in "${!m[@]}"; do echo "$p ${m[$p]}"; done
}
set_member() { # set_member SVC PORT WEIGHT|-
    if [[ $1 == "$NAT_PORT" ]]; then
        if [[ $3 == - ]]; then unset "W_NAT[$2]"; else W_NAT[$2]=$3; fi
    else
        if [[ $3 == - ]]; then unset "W_FNAT[$2]"; else W_FNAT[$2]=$3; fi
    fi
}

rsd_pid() { cat "$RVS_RUN_DIR/rvsd.pid"; }
rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$(rsd_pid)/status"; }
hwm_kb() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$(rsd_pid)/status"; }
sum_counter() { # sum_counter STATS NAME
    dp_counter "$1" "$2" | awk '{ s += $2 } END { print s + 0 }'
}
# Open (not TIME_WAIT/CLOSE) sessions bound to RS_IP:PORT through VIP:SVC.
open_sessions() { # open_sessions SVC RS_IP:PORT
    lab_rvsadm -Lnc | awk -v v="$RVS_VIP:$1" -v d="$2" \
        'NR > 2 && $5 == v && $6 == d && $3 != "TIME_WAIT" && $3 != "CLOSE" { n++ } END { print n + 0 }'
}

lab_up 2 nat
lab_ns client sysctl -qw net.ipv4.ip_local_port_range="10000 65000"
for p in "${POOL_PORTS[@]}"; do
    if [[ ${POOL_IP[$p]} == "$RVS_RS1_IP" ]]; then soak_nginx rs1 "$p"; else soak_nginx rs2 "$p"; fi
done
for p in "${POOL_PORTS[@]}"; do
    ns=rs1
    [[ ${POOL_IP[$p]} == "$RVS_RS2_IP" ]] && ns=rs2
    assert_eq "p$p" "$(lab_ns "$ns" curl -s --max-time 2 "http://${POOL_IP[$p]}:$p/")" "pool server $p answers itself"
done

lab_rvsadm --set 20 5 10
lab_rvsadm -A -t "$RVS_VIP:$NAT_PORT" -s wrr
lab_rvsadm -A -t "$RVS_VIP:$FNAT_PORT" -s wlc
lab_rvsadm --add-laddr -z "$RVS_LADDR1" -t "$RVS_VIP:$FNAT_PORT"
lab_rvsadm --add-laddr -z "$RVS_LADDR2" -t "$RVS_VIP:$FNAT_PORT"
for sp in "$NAT_PORT 9101 2" "$NAT_PORT 9201 1" "$FNAT_PORT 9102 1" "$FNAT_PORT 9202 3"; do
    read -r svc p w <<<"$sp"
    lab_rvsadm -a -t "$RVS_VIP:$svc" -r "${POOL_IP[$p]}:$p" "$(svc_fwd "$svc")" -w "$w"
    set_member "$svc" "$p" "$w"
done
first_conn=$(date +%s)
for svc in $NAT_PORT $FNAT_PORT; do
    page=$(lab_curl -H 'Connection: close' "http://$RVS_VIP:$svc/" || true)
    [[ $page =~ ^p9[12]0[1-4]$ ]] || fail "VIP:$svc answered [$page] before the load"
done
stats0=$(lab_rvsadm --dp-stats)
drops0=$(grep ' drop\.' <<<"$stats0")
lab_log "soak: ${SOAK_SECONDS}s (warm-up ${WARMUP}s), churn every ${SOAK_CHURN_S}s, seed $SEED, rvsd RSS $(rss_kb) kB"

# ---- load
L="$RVS_RUN_DIR/load"
mkdir -p "$L"
start=$(date +%s)
end=$((start + SOAK_SECONDS))
for svc in $NAT_PORT $FNAT_PORT; do
    lab_ns client timeout $((SOAK_SECONDS + 20)) wrk -t1 -c2 -d"${SOAK_SECONDS}s" --timeout 5s \
        "http://$RVS_VIP:$svc/" >"$L/wrk-$svc.out" 2>&1 &
    echo $! >"$L/wrk-$svc.pid"
    for k in 1 2; do
        # Batches of CURL_RATE requests at CURL_RATE/s until the deadline (at most SOAK_SECONDS + 5 batches).
        (
            b=0
            while (($(date +%s) < end && b < SOAK_SECONDS + 5)); do
                b=$((b + 1))
                lab_ns client curl -sS --rate "$CURL_RATE/s" --connect-timeout 5 --max-time 10 \
                    -H 'Connection: close' -w ' %{http_code} %{local_port}\n' \
                    "http://$RVS_VIP:$svc/?l=$k&b=$b&n=[1-$CURL_RATE]" 2>>"$L/curl-$svc-$k.err" || true
            done
        ) >"$L/curl-$svc-$k.out" &
        echo $! >"$L/curl-$svc-$k.pid"
    done
done

# ---- churn: one action per step on one service (alternating); a server set to weight 0 at a step is drained
# and removed at the next step on that service.
declare -A QUIESCED=() # "svc port" of servers at weight 0, to remove
declare -A REMOVED=() READDED=() # "svc port" of servers removed (and added again) during the run
steps=0 adds=0 quiesces=0 reweights=0 removes=0 drain_max_ms=0
rss_warm="" rss_min=999999999 rss_max=0 live_warm=0 live_max=0
while (($(date +%s) < end && steps < SOAK_SECONDS)); do
    steps=$((steps + 1))
    svc=$((steps % 2 ? NAT_PORT : FNAT_PORT))
    fwd=$(svc_fwd "$svc")
    # Remove what was quiesced on this service, once drained.
    for q in "${!QUIESCED[@]}"; do
        read -r qs qp <<<"$q"
        [[ $qs == "$svc" ]] || continue
        t0=$(date +%s%3N)
        tries=100
        while (($(open_sessions "$svc" "${POOL_IP[$qp]}:$qp") > 0)) && ((tries-- > 0)); do sleep 0.2; done
        (($(open_sessions "$svc" "${POOL_IP[$qp]}:$qp") == 0)) ||
            fail "p$qp on :$svc not drained 20 s after weight 0: $(open_sessions "$svc" "${POOL_IP[$qp]}:$qp") open"
        ms=$(($(date +%s%3N) - t0))
        ((ms > drain_max_ms)) && drain_max_ms=$ms
        lab_rvsadm -d -t "$RVS_VIP:$svc" -r "${POOL_IP[$qp]}:$qp"
        set_member "$svc" "$qp" -
        unset "QUIESCED[$q]"
        REMOVED[$q]=1
        removes=$((removes + 1))
    done
    mapfile -t mem < <(members "$svc")
    positive=$(printf '%s\n' "${mem[@]}" | awk '$2 > 0' | wc -l)
    free=()
    for p in "${POOL_PORTS[@]}"; do
        printf '%s\n' "${mem[@]}" | grep -q "^$p " || free+=("$p")
    done
    # Per service, the actions come in turn (add, re-weight, weight 0); the servers and weights are random.
    action=$(((steps - 1) / 2 % 3))
    action=$((action == 1 ? 2 : action == 2 ? 1 : 0))
    # Keep 2..5 members: add when fewer than 3, quiesce when more than 4 (and another stays positive).
    ((${#mem[@]} < 3)) && action=0
    ((${#mem[@]} > 4 && positive > 1)) && action=1
    ((action == 1 && positive < 2)) && action=2
    ((action == 0 && ${#free[@]} == 0)) && action=2
    case $action in
    0)
        p=${free[RANDOM % ${#free[@]}]} w=$((1 + RANDOM % 3))
        lab_rvsadm -a -t "$RVS_VIP:$svc" -r "${POOL_IP[$p]}:$p" "$fwd" -w "$w"
        set_member "$svc" "$p" "$w"
        [[ -n ${REMOVED["$svc $p"]:-} ]] && READDED["$svc $p"]=1
        adds=$((adds + 1))
        ;;
    1)
        mapfile -t pos < <(printf '%s\n' "${mem[@]}" | awk '$2 > 0 { print $1 }')
        p=${pos[RANDOM % ${#pos[@]}]}
        lab_rvsadm -e -t "$RVS_VIP:$svc" -r "${POOL_IP[$p]}:$p" "$fwd" -w 0
        set_member "$svc" "$p" 0
        QUIESCED["$svc $p"]=1
        quiesces=$((quiesces + 1))
        ;;
    2)
        # Re-weight a member of positive weight (a quiesced one stays quiesced until removed).
        mapfile -t pos < <(printf '%s\n' "${mem[@]}" | awk '$2 > 0 { print $1 }')
        p=${pos[RANDOM % ${#pos[@]}]} w=$((1 + RANDOM % 5))
        lab_rvsadm -e -t "$RVS_VIP:$svc" -r "${POOL_IP[$p]}:$p" "$fwd" -w "$w"
        set_member "$svc" "$p" "$w"
        reweights=$((reweights + 1))
        ;;
    esac
    lab_rvsd_alive || fail "rvsd died at churn step $steps"
    rss=$(rss_kb)
    ((rss < rss_min)) && rss_min=$rss
    ((rss > rss_max)) && rss_max=$rss
    live=$(sum_counter "$(lab_rvsadm --dp-stats)" sessions_live)
    ((live > live_max)) && live_max=$live
    if [[ -z $rss_warm ]] && (($(date +%s) >= start + WARMUP)); then
        rss_warm=$rss live_warm=$live
        lab_log "soak: warm-up over at step $steps, rvsd RSS $rss kB, $live sessions"
    fi
    now=$(date +%s)
    ((now < end)) && sleep "$SOAK_CHURN_S"
done
lab_log "soak: churn done: $steps steps ($adds adds, $quiesces weight 0, $reweights re-weights," \
    "$removes removals), drain at most ${drain_max_ms} ms"

# ---- load end
for f in "$L"/wrk-*.pid "$L"/curl-*.pid; do
    pid=$(cat "$f")
    tries=$((45 * 5))
    while kill -0 "$pid" 2>/dev/null && ((tries-- > 0)); do sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && fail "load process $(basename "$f" .pid) still running 45 s after the deadline"
done
rss_end=$(rss_kb)
[[ -n $rss_warm ]] || fail "no RSS sample after the warm-up"
load_s=$(($(date +%s) - start))

# Requests: every curl line is "p<port> 200 <local port>"; wrk reports its errors.
curl_ok=0 curl_failed=0
declare -A SEEN=()
for svc in $NAT_PORT $FNAT_PORT; do
    for k in 1 2; do
        out="$L/curl-$svc-$k.out"
        ok_n=$(grep -cE '^p9[12]0[1-4] 200 [0-9]+$' "$out" || true)
        all_n=$(wc -l <"$out")
        curl_ok=$((curl_ok + ok_n))
        curl_failed=$((curl_failed + all_n - ok_n))
        for id in $(awk '$2 == 200 { print $1 }' "$out" | sort -u); do SEEN["$svc $id"]=1; done
        if ((all_n != ok_n)); then
            echo "failed curl requests through :$svc (loop $k):" >&2
            grep -vE '^p9[12]0[1-4] 200 [0-9]+$' "$out" | head -n 20 >&2
            head -n 20 "$L/curl-$svc-$k.err" >&2 || true
        fi
    done
done
wrk_req=0 wrk_failed=0
for svc in $NAT_PORT $FNAT_PORT; do
    out="$L/wrk-$svc.out"
    cat "$out"
    n=$(awk '/requests in/ { print $1 }' "$out")
    [[ $n =~ ^[0-9]+$ ]] || fail "wrk through :$svc printed no request count"
    errs=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$out")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
    wrk_req=$((wrk_req + n))
    wrk_failed=$((wrk_failed + ${errs:-0} + ${non2xx:-0}))
done
lab_log "soak: curl $curl_ok ok $curl_failed failed; wrk $wrk_req requests $wrk_failed failed;" \
    "${#SEEN[@]} (service, server) pairs answered"
assert_eq 0 "$curl_failed" "failed curl requests"
assert_eq 0 "$wrk_failed" "wrk socket errors and non-2xx answers"
# The bounded curl rate must have been reached, give or take contention (at least half of it).
((curl_ok >= SOAK_SECONDS * CURL_RATE * 4 / 2)) || fail "only $curl_ok curl requests in ${SOAK_SECONDS}s"
((wrk_req >= SOAK_SECONDS * 10)) || fail "only $wrk_req wrk requests in ${SOAK_SECONDS}s"
((adds >= 1 && quiesces >= 1 && reweights >= 1 && removes >= 1)) ||
    fail "churn did not do every action: $adds adds, $quiesces weight 0, $reweights re-weights, $removes removals"
# Traffic followed the churn: servers beyond the 4 initial members answered.
((${#SEEN[@]} > 4)) || fail "only ${#SEEN[@]} (service, server) pairs answered: the churn did not move traffic"
ok "load: $curl_ok curl requests and $wrk_req wrk requests, none failed; $steps churn steps"

# ---- residue: wait (bounded) until every session is closed (the shortened timeouts and CLOSE's 10 s pass).
not_tw_rows() { lab_rvsadm -Lnc | awk 'NR > 2 && $3 != "TIME_WAIT"'; }
tries=150
while [[ -n $(not_tw_rows) ]] && ((tries-- > 0)); do sleep 0.2; done
left=$(not_tw_rows)
if [[ -n $left ]]; then
    # A connection wrk opened as it stopped (SYN sent, socket closed before the SYN-ACK) leaves a SYN_RECV
    # session that the client's RST does not close (the kernel's table; 60 s): at most one per wrk connection,
    # never ESTABLISHED.
    echo "$left" >&2
    TW_EXTRA=$(wc -l <<<"$left")
    ((TW_EXTRA <= 4)) || fail "$TW_EXTRA sessions other than TIME_WAIT 30 s after the load (above)"
    grep -q ESTABLISHED <<<"$left" && fail "an ESTABLISHED session 30 s after the load (above)"
    lab_log "soak: $TW_EXTRA session(s) of wrk's last connections not closed yet (above)"
fi
# The listing the bookkeeping predicts, InActConn taken from -Lnc (each view of rvsd against the other): the rows
# of that service and dest. A dest removed and added again during the run may also have rows of its earlier
# incarnation in -Lnc (closed sessions counted on the removed dest): for it, InActConn is what -Ln says, but at most
# the rows. expected_listing CONNS_TEXT LISTING_TEXT
expected_listing() {
    ln_header
    local svc p w inact shown
    for svc in $NAT_PORT $FNAT_PORT; do
        echo "TCP  $RVS_VIP:$svc $([[ $svc == "$NAT_PORT" ]] && echo wrr || echo wlc)"
        while read -r p w; do
            inact=$(awk -v v="$RVS_VIP:$svc" -v d="${POOL_IP[$p]}:$p" \
                'NR > 2 && $5 == v && $6 == d { n++ } END { print n + 0 }' <<<"$1")
            if [[ -n ${READDED["$svc $p"]:-} ]]; then
                shown=$(awk -v v="$RVS_VIP:$svc" -v d="${POOL_IP[$p]}:$p" \
                    '$1 == "TCP" { s = $2 } $1 == "->" && s == v && $2 == d { print $6 }' <<<"$2")
                [[ $shown =~ ^[0-9]+$ ]] && ((shown <= inact)) && inact=$shown
            fi
            ln_dest "${POOL_IP[$p]}:$p" "$(svc_forward_name "$svc")" "$w" 0 "$inact"
        done < <(members "$svc" | sort -n)
    done
}
conns=$(lab_rvsadm -Lnc)
listing=$(lab_rvsadm -Ln)
stats=$(lab_rvsadm --dp-stats)
live=$(sum_counter "$stats" sessions_live)
created=$(sum_counter "$stats" sessions_created)
expired=$(sum_counter "$stats" sessions_expired)
rows=$(($(wc -l <<<"$conns") - 2))
assert_eq "$live" "$((created - expired))" "sessions_live vs created - expired"
if (($(date +%s) - first_conn < 110)); then
    # No TIME_WAIT session has expired yet (the first connection is less than 120 s old): the views of the
    # residue must agree exactly.
    no_expire() { awk 'NR > 2 { print $1, $3, $4, $5, $6 }' | sort; }
    assert_eq "$(no_expire <<<"$conns")" "$(lab_rvsadm -Lnc | no_expire)" \
        "-Lnc (but the expire column) around the listing"
    assert_text "$(expected_listing "$conns" "$listing")" "$listing" "-Ln after the load"
    # Rows of dests still listed (their InActConn matched above) and of removed dests (closed sessions kept until
    # TIME_WAIT ends; -Ln no longer lists their dest).
    inact_sum=$(awk '$1 == "->" && $2 ~ /:/ { s += $6 } END { print s + 0 }' <<<"$listing")
    of_removed=$((rows - inact_sum))
    ((of_removed >= 0)) || fail "-Lnc rows $rows < sum of InActConn $inact_sum"
    assert_eq "$rows" "$live" "-Lnc rows vs sessions_live"
    residue="$rows TIME_WAIT sessions ($of_removed of removed servers) = sessions_live"
else
    # The residue expires while we look (the long run): members, weights and ActiveConn exactly, InActConn
    # once every session expired (below).
    mask() { sed -E 's/^(  -> [^ ]+ +[A-Za-z]+ +[0-9]+ +[0-9]+ +)[0-9]+ *$/\1N/'; }
    assert_text "$(expected_listing "$conns" "$listing" | mask)" "$(mask <<<"$listing")" "-Ln after the load"
    residue="$live TIME_WAIT sessions"
fi
# One session per TCP connection: the servers logged the first request of each connection.
logged=$(cat "$RVS_RUN_DIR"/soak-nginx-*/logs/conns.log | wc -l)
# The 8 self-checks went around rvsd (the 2 pre-load curls through the VIP have sessions like the load).
through=$((logged - 8))
delta=$((created - through))
((delta >= 0 && delta <= 4)) ||
    fail "sessions_created $created vs $through connections the servers logged through the VIP"
ok "-Ln as predicted; residue $residue = created $created - expired $expired; $through connections logged"

# ---- drops and memory
drops1=$(grep ' drop\.' <<<"$stats")
assert_text "$drops0" "$drops1" "drop counters during the soak"
assert_eq 0 "$(sum_counter "$stats" misowned_packets)" "misowned_packets"
assert_eq 0 "$(sum_counter "$stats" sessions_table_full)" "sessions_table_full"
growth=$((rss_end - rss_warm))
more=$((live_max > live_warm ? live_max - live_warm : 0))
allowed=$((SOAK_RSS_SLACK_KB + more * SOAK_RSS_PER_SESSION_B / 1024))
((growth <= allowed)) || fail "rvsd RSS grew by $growth kB between the end of the warm-up ($rss_warm kB," \
    "$live_warm sessions) and the end ($rss_end kB, at most $live_max sessions): more than $allowed kB"
ok "no drop counter moved; rvsd RSS $rss_warm kB after warm-up, $rss_end kB at the end," \
    "growth $growth kB <= $allowed kB" \
    "(sessions $live_warm -> at most $live_max; RSS min $rss_min, max $rss_max, peak $(hwm_kb))"

# ---- the long run: the TIME_WAIT residue expires to nothing.
if ((SOAK_SECONDS >= 300)); then
    tries=$((135 * 5))
    while (($(sum_counter "$(lab_rvsadm --dp-stats)" sessions_live) > 0 && tries-- > 0)); do sleep 0.2; done
    stats=$(lab_rvsadm --dp-stats)
    assert_eq 0 "$(sum_counter "$stats" sessions_live)" "sessions 135 s after the load"
    assert_eq 0 "$(($(lab_rvsadm -Lnc | wc -l) - 2))" "-Lnc rows 135 s after the load"
    READDED=()
    assert_text "$(expected_listing "" "")" "$(lab_rvsadm -Ln)" "-Ln once every session expired"
    assert_text "$drops0" "$(grep ' drop\.' <<<"$stats")" "drop counters after the expiry"
    rss_final=$(rss_kb)
    ((rss_final <= rss_end + 256)) || fail "rvsd RSS $rss_final kB after the expiry, $rss_end kB when the load stopped"
    ok "every session expired: 0 sessions, -Ln with no connection, RSS $rss_final kB"
    residue_final=0
else
    residue_final="$live (TIME_WAIT, expiring within 120 s)"
fi

echo "soak: ${SOAK_SECONDS}s load (${load_s}s with stragglers), seed $SEED, $steps churn steps" \
    "($adds adds, $quiesces weight 0," \
    "$reweights re-weights, $removes drained removals, longest drain ${drain_max_ms} ms); curl $curl_ok requests" \
    "(new connection each) 0 failed; wrk $wrk_req requests (keep-alive) 0 failed; sessions created $created," \
    "residue $residue_final; rvsd RSS warm-up $rss_warm kB ($live_warm sessions), end $rss_end kB (growth $growth kB," \
    "allowed $allowed; at most $live_max sessions); drop counters unchanged"
