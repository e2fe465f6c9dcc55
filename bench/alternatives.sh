#!/usr/bin/env bash
# bench/alternatives.sh: `make alternatives` (and `make bench`). The same namespace lab through rvsd and through the
# balancers an LVS user picks instead on a kernel without ip_vs: HAProxy 2.6 (tcp mode), nginx's stream module and
# nftables DNAT. Interleaved (rvsd, haproxy, nginx, nftables, then again), three rounds; prints the medians.
#
#   <p>cl  client 10.30.0.2/24 --veth-- \
#   <p>r1  nginx  10.30.1.2/24 --veth--  <p>lb  the balancer: VIP 10.30.0.100:80, 10.30.0.1, 10.30.1.1, 10.30.2.1
#   <p>r2  nginx  10.30.2.2/24 --veth-- /
#
# The balancer namespace and its three veth pairs are made afresh for every run; the client and real-server
# namespaces (and their nginx) stay. Kernel balancers: the addresses sit on the balancer's veth ends (HAProxy and
# nginx proxy; nftables DNATs with numgen round robin and the real servers route back through it). rvsd: no kernel
# address in the balancer namespace; rvsd takes the three veth ends with net_af_xdp (or net_af_packet, ALT_PMD) and
# owns the same addresses, NAT mode (-m) with rr, one worker. DPDK's packet ports cannot take the kernel's
# CHECKSUM_PARTIAL frames, so for rvsd's runs tx checksum offload (and with it TSO/GSO) is off on the client and
# real-server veth ends; the kernel balancers run with the defaults (offloads on), as users run them.
#
# Measures per run (wrk from the client namespace, ALT_SECONDS each):
#   ka1, ka32   requests/s with keep-alive, 1 and 32 connections
#   new1, new32 requests/s with `Connection: close` (one new TCP connection per request), 1 and 32 connections
#   bulk        MB/s (10^6 bytes) of one 200 MiB download (curl)
#   lb_us       the balancer's CPU (user + system of every process in its namespace, /proc/<pid>/stat) per
#               connection during new32; nftables has no process (its work is softirq time charged to whichever
#               CPU runs it), so "-"
#   sys_us      the whole machine's busy CPU time (/proc/stat) per connection during new32: client, servers and
#               balancer together, the one figure that compares all four
#   bulk_lb_ms, bulk_sys_ms  the balancer's and the machine's CPU milliseconds for the 200 MiB download
# rvsd polls: under new32 its worker is busy whether packets come or not, so lb_us counts a whole CPU.
#
# Environment: ALT_SECONDS (per wrk run, default 5), ALT_ROUNDS (default 3), ALT_BALANCERS (default
# "rvsd haproxy nginx nftables"), ALT_PMD (af_xdp, default, or af_packet), ALT_PROCS (HAProxy threads and nginx
# workers, default 1, like rvsd's one worker), ALT_DEADLINE (seconds for the whole script, default 1500),
# ALT_KEEP (a directory where the raw results and logs are copied), RVS_BIN_DIR.
# Needs root, wrk, haproxy, nginx with libnginx-mod-stream, nft, curl, ethtool (make alternatives installs them).
set -euo pipefail

SECS=${ALT_SECONDS:-5}
ROUNDS=${ALT_ROUNDS:-3}
BALANCERS=${ALT_BALANCERS:-rvsd haproxy nginx nftables}
PMD=${ALT_PMD:-af_xdp}
PROCS=${ALT_PROCS:-1}
BACKOFF=${ALT_BACKOFF_US:-50}
DEADLINE=${ALT_DEADLINE:-1500}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${RVS_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
RVSD=$BIN/rvsd
RVSADM=$BIN/rvsadm
BIG_MB=200

die() {
    echo "alternatives: $*" >&2
    exit 1
}
log() { echo "[alt $(date +%H:%M:%S)] $*" >&2; }

[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for b in "$RVSD" "$RVSADM"; do [[ -x "$b" ]] || die "$b missing (make build)"; done
for c in wrk haproxy nginx nft curl ethtool; do command -v "$c" >/dev/null || die "$c missing (make alternatives)"; done
[[ -f /usr/lib/nginx/modules/ngx_stream_module.so ]] || die "nginx stream module missing (libnginx-mod-stream)"
case $PMD in af_xdp | af_packet) ;; *) die "ALT_PMD must be af_xdp or af_packet" ;; esac

# Per-run prefix: namespaces, veths (prefix + 2 characters <= 15), EAL file prefix.
P="ab$(($$ % 100000))-"
RUN=$(mktemp -d "/tmp/rvs-alt.${P%-}.XXXXXX")
NS_CL=${P}cl NS_LB=${P}lb NS_R1=${P}r1 NS_R2=${P}r2
VIP=10.30.0.100
START=$(date +%s)

ns_pids() { ip netns pids "$1" 2>/dev/null || true; }

# Stop every process of a namespace: TERM, up to 5 s, then KILL.
ns_stop() {
    local ns=$1 i pids
    [[ -e /run/netns/$ns ]] || return 0
    pids=$(ns_pids "$ns")
    [[ -n "$pids" ]] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        [[ -z "$(ns_pids "$ns")" ]] && return 0
        sleep 0.1
    done
    pids=$(ns_pids "$ns")
    # shellcheck disable=SC2086
    [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null || true
    sleep 0.2
}

cleanup() {
    local ns
    for ns in "$NS_LB" "$NS_CL" "$NS_R1" "$NS_R2"; do
        ns_stop "$ns"
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "/var/run/dpdk/${P%-}"
    if [[ -n "${ALT_KEEP:-}" ]]; then mkdir -p "$ALT_KEEP" && cp -r "$RUN"/. "$ALT_KEEP"/ 2>/dev/null || true; fi
    rm -rf -- "$RUN"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT
trap 'log terminated; exit 143' TERM

left() { echo $((DEADLINE - ($(date +%s) - START))); }
check_deadline() { (($(left) > 0)) || die "deadline of ${DEADLINE}s passed"; }

# Wait until CMD succeeds: wait_for SECONDS WHAT CMD...
wait_for() {
    local tries=$(($1 * 5)) what=$2
    shift 2
    while ((tries-- > 0)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    die "timed out waiting for $what"
}

### The persistent part: client and real servers.

setup_servers() {
    local ns rs
    for ns in "$NS_CL" "$NS_R1" "$NS_R2"; do
        ip netns add "$ns"
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    done
    # Many short connections from one address: the whole port range; server-side TIME_WAIT is on the servers.
    ip netns exec "$NS_CL" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
    mkdir -p "$RUN/www"
    echo ok >"$RUN/www/index.html"
    head -c $((BIG_MB * 1024 * 1024)) /dev/zero >"$RUN/www/big.bin"
    for rs in 1 2; do
        local d="$RUN/nginx-r$rs"
        mkdir -p "$d/tmp" "$d/logs"
        cat >"$d/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon on;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
http {
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 10000000;
    keepalive_timeout 60s;
    client_body_temp_path $d/tmp/body;
    proxy_temp_path $d/tmp/proxy;
    fastcgi_temp_path $d/tmp/fastcgi;
    uwsgi_temp_path $d/tmp/uwsgi;
    scgi_temp_path $d/tmp/scgi;
    server {
        listen 80 backlog=4096 reuseport;
        root $RUN/www;
    }
}
EOF
        ip netns exec "${P}r$rs" nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"
    done
}

### The balancer namespace, made for each run.

# veth pairs: lb end <p>l{c,1,2}, other end <p>{c,1,2} in the client / real-server namespace.
setup_lb_links() { # setup_lb_links offload(on|off)
    local off=$1 i ns end addr gw
    ip netns add "$NS_LB"
    ip -n "$NS_LB" link set lo up
    ip netns exec "$NS_LB" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    for i in c 1 2; do
        case $i in
        c) ns=$NS_CL addr=10.30.0.2/24 gw=10.30.0.1 ;;
        1) ns=$NS_R1 addr=10.30.1.2/24 gw=10.30.1.1 ;;
        2) ns=$NS_R2 addr=10.30.2.2/24 gw=10.30.2.1 ;;
        esac
        end=${P}$i
        ip link add "${P}l$i" netns "$NS_LB" type veth peer name "$end" netns "$ns"
        ip -n "$ns" link set dev "$end" address "02:61:62:00:0$([[ $i == c ]] && echo 0 || echo "$i"):02"
        ip -n "$ns" addr add "$addr" dev "$end"
        ip -n "$ns" link set dev "$end" up
        if [[ $off == off ]]; then ip netns exec "$ns" ethtool -K "$end" tx off >/dev/null; fi
        ip -n "$NS_LB" link set dev "${P}l$i" up
        ip -n "$ns" route add default via "$gw"
    done
}

# Kernel balancers: addresses on the balancer's ends, the VIP next to 10.30.0.1.
lb_kernel_addrs() {
    ip -n "$NS_LB" addr add 10.30.0.1/24 dev "${P}lc"
    ip -n "$NS_LB" addr add "$VIP/32" dev "${P}lc"
    ip -n "$NS_LB" addr add 10.30.1.1/24 dev "${P}l1"
    ip -n "$NS_LB" addr add 10.30.2.1/24 dev "${P}l2"
    ip netns exec "$NS_LB" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
}

start_haproxy() {
    setup_lb_links on
    lb_kernel_addrs
    cat >"$RUN/haproxy.cfg" <<EOF
global
    nbthread $PROCS
    # FDs: 2 per connection plus a few; root cannot raise the hard limit (20000) on these VMs.
    maxconn 9000
    pidfile $RUN/haproxy.pid
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend vip
    bind $VIP:80
    default_backend rs
backend rs
    balance roundrobin
    server rs1 10.30.1.2:80
    server rs2 10.30.2.2:80
EOF
    ip netns exec "$NS_LB" haproxy -D -f "$RUN/haproxy.cfg" >"$RUN/haproxy.log" 2>&1
}

start_nginx() {
    setup_lb_links on
    lb_kernel_addrs
    local d="$RUN/nginx-lb"
    mkdir -p "$d/logs"
    cat >"$d/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
user root;
worker_processes $PROCS;
daemon on;
pid $d/nginx.pid;
error_log $d/logs/error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; }
stream {
    upstream rs {
        zone rs 64k;
        server 10.30.1.2:80;
        server 10.30.2.2:80;
    }
    server {
        listen $VIP:80 backlog=4096;
        proxy_pass rs;
    }
}
EOF
    ip netns exec "$NS_LB" nginx -p "$d" -c "$d/nginx.conf" -e "$d/logs/error.log"
}

start_nftables() {
    setup_lb_links on
    lb_kernel_addrs
    ip netns exec "$NS_LB" sysctl -qw net.ipv4.ip_forward=1
    ip netns exec "$NS_LB" nft -f - <<EOF
table ip alt {
    chain pre {
        type nat hook prerouting priority dstnat;
        ip daddr $VIP tcp dport 80 dnat to numgen inc mod 2 map { 0 : 10.30.1.2, 1 : 10.30.2.2 }
    }
}
EOF
}

start_rvsd() {
    setup_lb_links off
    local dev i=0 ports=""
    for end in c 1 2; do
        case $PMD in
        af_xdp) dev="net_af_xdp$i,iface=${P}l$end" ;;
        af_packet) dev="net_af_packet$i,iface=${P}l$end,qpairs=1" ;;
        esac
        ports+="
[[port]]
name = \"$([[ $end == c ]] && echo client || echo "rs$end")\"
device = \"$dev\"
address = [\"10.30.$([[ $end == c ]] && echo 0 || echo "$end").1/24\"]
"
        i=$((i + 1))
    done
    cat >"$RUN/rvsd.toml" <<EOF
[eal]
args = ["--no-huge", "-m", "1024", "--no-pci", "--file-prefix", "${P%-}", "--lcores", "0@0,1@1"]

[dataplane]
workers = [1]
idle_backoff_us = $BACKOFF
mbufs = 32767
max_sessions = 524288

[control]
socket = "$RUN/rvsd.sock"
$ports
[services]
rules = [
    "-A -t $VIP:80 -s rr",
    "-a -t $VIP:80 -r 10.30.1.2:80 -m",
    "-a -t $VIP:80 -r 10.30.2.2:80 -m",
]
EOF
    ip netns exec "$NS_LB" "$RVSD" --config "$RUN/rvsd.toml" >>"$RUN/rvsd.log" 2>&1 &
    wait_for 60 "rvsd's control socket" test -S "$RUN/rvsd.sock"
    wait_for 10 "rvsd to answer" "$RVSADM" --socket "$RUN/rvsd.sock" -Ln
}

stop_lb() {
    local i
    ns_stop "$NS_LB"
    # Delete the veth pairs explicitly (both ends at once): a deleted namespace's devices go away later, in the
    # kernel's cleanup work, and the next run would find the old peer ends still holding their addresses.
    for i in c 1 2; do ip -n "$NS_LB" link del "${P}l$i" 2>/dev/null || true; done
    ip netns del "$NS_LB" 2>/dev/null || true
    rm -rf "/var/run/dpdk/${P%-}"
}

### Measurements.

# Busy jiffies of the whole machine (all CPUs): user nice system irq softirq steal.
sys_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# user + system jiffies of every process now in the balancer namespace (threads included).
lb_ticks() {
    local t=0 pid v
    for pid in $(ns_pids "$NS_LB"); do
        v=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null) || continue
        t=$((t + v))
    done
    echo "$t"
}

# wrk from the client: run_wrk CONNECTIONS close|keepalive -> requests/s (integer); raw output in the run dir.
run_wrk() {
    local c=$1 mode=$2 t=1 out hdr=()
    ((c > 1)) && t=2
    [[ $mode == close ]] && hdr=(-H "Connection: close")
    out=$(ip netns exec "$NS_CL" timeout $((SECS + 30)) wrk -t "$t" -c "$c" -d "${SECS}s" --timeout 5s \
        ${hdr[@]+"${hdr[@]}"} "http://$VIP/" 2>&1) || true
    echo "$out" >>"$RUN/wrk.log"
    local rps errs
    rps=$(awk '$1 == "Requests/sec:" { printf "%d", $2 }' <<<"$out")
    errs=$(awk '/Socket errors|Non-2xx/' <<<"$out" | tr '\n' ' ')
    [[ -n "$errs" ]] && log "wrk -c $c $mode: $errs"
    echo "${rps:-0}"
}

# One run of a balancer: measure BALANCER ROUND -> one line of results in $RUN/results.tsv
measure() {
    local b=$1 round=$2 ka1 ka32 new1 new32 bulk s0 s1 l0 l1 conns lb_us sys_us sz speed bulk_lb_ms bulk_sys_ms
    check_deadline
    log "round $round: $b"
    "start_$b"
    # Through the balancer before measuring (ARP, first connections).
    wait_for 20 "$b to forward" ip netns exec "$NS_CL" curl -sf --max-time 2 -o /dev/null "http://$VIP/"
    ip netns exec "$NS_CL" timeout 20 wrk -t 1 -c 4 -d 1s "http://$VIP/" >/dev/null 2>&1 || true
    ka1=$(run_wrk 1 keepalive)
    ka32=$(run_wrk 32 keepalive)
    new1=$(run_wrk 1 close)
    s0=$(sys_ticks) l0=$(lb_ticks)
    new32=$(run_wrk 32 close)
    s1=$(sys_ticks) l1=$(lb_ticks)
    conns=$((new32 * SECS))
    if ((conns > 0)); then
        sys_us=$(((s1 - s0) * 1000000 / $(getconf CLK_TCK) / conns))
        if [[ $b == nftables ]]; then lb_us=-; else lb_us=$(((l1 - l0) * 1000000 / $(getconf CLK_TCK) / conns)); fi
    else
        sys_us=- lb_us=-
    fi
    s0=$(sys_ticks) l0=$(lb_ticks)
    read -r sz speed < <(ip netns exec "$NS_CL" curl -s --max-time 120 -o /dev/null \
        -w '%{size_download} %{speed_download}\n' "http://$VIP/big.bin" || echo "0 0")
    s1=$(sys_ticks) l1=$(lb_ticks)
    # CPU milliseconds for the whole download: the balancer's, the machine's.
    bulk_lb_ms=$(((l1 - l0) * 1000 / $(getconf CLK_TCK)))
    [[ $b == nftables ]] && bulk_lb_ms=-
    bulk_sys_ms=$(((s1 - s0) * 1000 / $(getconf CLK_TCK)))
    if ((sz == BIG_MB * 1024 * 1024)); then bulk=$(awk -v s="$speed" 'BEGIN { printf "%d", s / 1e6 }'); else bulk=0; fi
    ((sz == BIG_MB * 1024 * 1024)) || log "$b: bulk download got $sz bytes"
    if [[ $b == rvsd ]]; then
        "$RVSADM" --socket "$RUN/rvsd.sock" --dp-stats 2>/dev/null | awk '$NF != "0"' >"$RUN/rvsd-stats.r$round" || true
    fi
    stop_lb
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$round" "$ka1" "$ka32" "$new1" "$new32" "$bulk" \
        "$lb_us" "$sys_us" "$bulk_lb_ms" "$bulk_sys_ms" | tee -a "$RUN/results.tsv" >&2
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else print v[int((NR + 1) / 2)] }'; }

report() {
    local b col
    echo
    echo "Medians of $ROUNDS rounds (wrk ${SECS} s per figure; rvsd on net_$PMD, $PROCS HAProxy thread / nginx worker):"
    echo
    echo "| balancer | keep-alive req/s, 1 conn | keep-alive req/s, 32 conns | new conn/s, 1 | new conn/s, 32 | bulk MB/s (200 MiB) | balancer CPU µs/conn | machine CPU µs/conn | bulk: balancer CPU ms | bulk: machine CPU ms |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for b in $BALANCERS; do
        printf '| %s' "$b"
        for col in 3 4 5 6 7 8 9 10 11; do
            printf ' | %s' "$(awk -F'\t' -v b="$b" -v c="$col" '$1 == b && $c != "-" { print $c }' "$RUN/results.tsv" | median)"
        done
        echo " |"
    done
    echo
    echo "Raw (balancer round ka1 ka32 new1 new32 bulk lb_us sys_us bulk_lb_ms bulk_sys_ms):"
    cat "$RUN/results.tsv"
}

log "prefix $P, run dir $RUN, load average $(cut -d' ' -f1-3 /proc/loadavg)"
setup_servers
wait_for 10 "nginx in the real servers" test -s "$RUN/nginx-r2/nginx.pid"
: >"$RUN/results.tsv"
for ((round = 1; round <= ROUNDS; round++)); do
    for b in $BALANCERS; do
        measure "$b" "$round"
    done
done
report
log "done in $(($(date +%s) - START)) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
