#!/usr/bin/env bash
# bench/gen-lab.sh: rvs-gen scenarios against rvsd, end to end (part of `make lab`; tests/e2e/41-gen.sh runs it
# small). rvsd on two net_vhost ports; rvs-gen (one DPDK process, one lcore) on two virtio_user ports plays the
# clients on one side and a stateless responder for the real servers on the other:
#
#   rvs-gen client side  virtio_user0 ==vhost-user== net_vhost0 port "client" 10.10.0.1/24 \
#     clients 10.10.0.2.. -> VIP 10.10.0.100                                                 rvsd (one worker)
#   rvs-gen responder    virtio_user1 ==vhost-user== net_vhost1 port "rs"     10.10.1.1/24 /
#     real servers 10.10.1.2.. (ARP, SYN cookies, request -> response + FIN, FIN -> ACK, UDP counted)
#
# Scenarios (GEN_SCENARIOS, space separated, default all, in this order):
#   udp          UDP datagrams over GEN_FLOWS flows to VIP:9000 (NAT); the responder counts packets and flows
#   syn          SYN flood from random client addresses and ports to VIP:80 (NAT), never completed
#   tcp-nat      full TCP connections (SYN, SYN-ACK, ACK, request, response+FIN, FIN-ACK, ACK) through NAT
#   tcp-fullnat  the same through FULLNAT (GEN_LADDRS local addresses)
# rvsd is started afresh for each scenario, so its counters are the scenario's own.
#
# Environment: GEN_SECONDS (sending time per scenario, default 10), GEN_COUNT (count bound per scenario, default 0
# = time only), GEN_RATE (per second, 0 = unpaced), GEN_FLOWS (UDP flows, default 10000), GEN_CONC (open
# connections, default 4096), GEN_TIMEOUT_MS (connection timeout, default 1000), GEN_SERVERS (real servers, default 4), GEN_CLIENTS (client addresses, default 16),
# GEN_LADDRS (default 16), GEN_SYNPROXY (rvsd's `synproxy`: auto, the default, answers a flood with SYN cookies
# once 1024 half-open sessions are live; off forwards every SYN to the real servers), GEN_OUT (a directory: each scenario's rvs-gen report, rvsd --dp-stats and --show-neigh
# are kept there as <scenario>.gen, .dp, .neigh), RVS_BIN_DIR. Needs root (hugepages, vhost-user sockets).
#
# CPUs (2 vCPUs): rvsd's worker on CPU 1, rvs-gen's lcore and rvsd's (sleeping) main lcore on CPU 0.
set -euo pipefail

SCENARIOS=${GEN_SCENARIOS:-udp syn tcp-nat tcp-fullnat}
SECS=${GEN_SECONDS:-10}
COUNT=${GEN_COUNT:-0}
RATE=${GEN_RATE:-0}
FLOWS=${GEN_FLOWS:-10000}
CONC=${GEN_CONC:-4096}
TIMEOUT_MS=${GEN_TIMEOUT_MS:-1000}
SERVERS=${GEN_SERVERS:-4}
CLIENTS=${GEN_CLIENTS:-16}
LADDRS=${GEN_LADDRS:-16}
SYNPROXY=${GEN_SYNPROXY:-auto}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${RVS_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
RVSD=$BIN/rvsd
RVSADM=$BIN/rvsadm
GEN=$BIN/rvs-gen

[ "$(id -u)" = 0 ] || { echo "gen-lab: needs root (hugepages, vhost-user sockets)" >&2; exit 1; }
for b in "$RVSD" "$RVSADM" "$GEN"; do
    [ -x "$b" ] || { echo "gen-lab: $b missing (cargo build --release)" >&2; exit 1; }
done
((SERVERS >= 1 && SERVERS <= 200 && LADDRS >= 1 && LADDRS <= 200)) || { echo "gen-lab: GEN_SERVERS and GEN_LADDRS: 1..200" >&2; exit 1; }

TAG="rvsgen$$"
RUN=$(mktemp -d "/tmp/$TAG.XXXXXX")
SOCK="$RUN/rvsd.sock"
RVSD_PID="" GEN_PID=""
# Every process is bounded: sending time plus start-up, drain and report.
LIFE=$((SECS + 40))

stop_pid() { # stop_pid PID SIGNAL SECONDS: signal, wait up to SECONDS, then KILL (PID is a `timeout` wrapper)
    local pid=$1 sig=$2 secs=$3 i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    # virtio_user side first (it may hang if the vhost side leaves first), then rvsd.
    stop_pid "$GEN_PID" INT 5
    stop_pid "$RVSD_PID" TERM 5
    rm -rf "$RUN" "/var/run/dpdk/$TAG-rvsd" "/var/run/dpdk/$TAG-gen"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# virtio_user shares its memory with the vhost side by file descriptor: hugepages (--in-memory uses memfd, no
# hugetlbfs mount needed). Never lower a setting another user may rely on.
hp=$(cat /proc/sys/vm/nr_hugepages)
if [ "$hp" -lt 256 ]; then echo 256 >/proc/sys/vm/nr_hugepages; fi

adm() { timeout 5 "$RVSADM" --socket "$SOCK" "$@"; }

# start_rvsd RULE... : a fresh rvsd with these start-up rules; waits for its control socket.
start_rvsd() {
    local rules="" r
    for r in "$@"; do rules+="    \"$r\","$'\n'; done
    cat >"$RUN/rvsd.toml" <<EOC
[eal]
args = ["--no-huge", "-m", "512", "--no-pci", "--file-prefix", "$TAG-rvsd", "--lcores", "0@0,1@1"]

[dataplane]
workers = [1]
idle_backoff_us = 0
mbufs = 16383
max_sessions = 2097152
synproxy = "$SYNPROXY"

[control]
socket = "$SOCK"

[[port]]
name = "client"
device = "net_vhost0,iface=$RUN/client.vhost,queues=1"
address = ["10.10.0.1/24"]

[[port]]
name = "rs"
device = "net_vhost1,iface=$RUN/rs.vhost,queues=1"
address = ["10.10.1.1/24"]

[services]
rules = [
$rules]
EOC
    rm -f "$RUN/client.vhost" "$RUN/rs.vhost"
    RUST_LOG=${RUST_LOG:-warn} timeout -k 5 "$LIFE" "$RVSD" --config "$RUN/rvsd.toml" --socket "$SOCK" \
        >"$RUN/rvsd.log" 2>&1 &
    RVSD_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        adm --show-links >/dev/null 2>&1 && return 0
        kill -0 "$RVSD_PID" 2>/dev/null || { cat "$RUN/rvsd.log"; echo "gen-lab: rvsd exited" >&2; exit 1; }
        sleep 0.2
    done
    cat "$RUN/rvsd.log"
    echo "gen-lab: rvsd control socket never answered" >&2
    exit 1
}

# run_gen NAME ARGS... : rvs-gen against the running rvsd; its report goes to $RUN/NAME.gen.
run_gen() {
    local name=$1
    shift
    timeout -s INT -k 5 "$LIFE" "$GEN" --client-dev "net_virtio_user0,path=$RUN/client.vhost,queues=1,queue_size=1024" \
        --server-dev "net_virtio_user1,path=$RUN/rs.vhost,queues=1,queue_size=1024" \
        --clients "$CLIENTS" --servers "$SERVERS" --duration "$SECS" --count "$COUNT" --rate "$RATE" "$@" \
        -- --lcores 0@0 --no-pci --in-memory --single-file-segments --iova-mode=va --file-prefix "$TAG-gen" \
        --log-level 'lib.eal:error' >"$RUN/$name.gen" 2>"$RUN/$name.gen.err" &
    GEN_PID=$!
    local rc=0
    wait "$GEN_PID" || rc=$?
    GEN_PID=""
    if ((rc != 0)); then
        cat "$RUN/$name.gen" "$RUN/$name.gen.err" "$RUN/rvsd.log" >&2
        echo "gen-lab: rvs-gen ($name) failed with status $rc" >&2
        exit 1
    fi
}

stop_rvsd() {
    stop_pid "$RVSD_PID" TERM 5
    RVSD_PID=""
}

# What rvsd did, from --dp-stats: the counters that are not zero, summed over lcores.
dp_summary() {
    awk '$1 == "lcore" && $4 != 0 { v[$3] += $4 } END { for (k in v) printf "%s=%d ", k, v[k]; print "" }' "$1" |
        tr ' ' '\n' | sort | grep -v '^$' | tr '\n' ' '
}

real_servers() { # real_servers PROTO VIP:PORT RPORT FLAG
    local i
    for ((i = 0; i < SERVERS; i++)); do echo "-a -$1 $2 -r 10.10.1.$((2 + i)):$3 $4"; done
}
laddrs() { # laddrs PROTO VIP:PORT
    local i
    for ((i = 0; i < LADDRS; i++)); do echo "--add-laddr -z 10.10.9.$((1 + i)) -$1 $2"; done
}

SUMMARY="$RUN/summary"
: >"$SUMMARY"
for sc in $SCENARIOS; do
    case "$sc" in
    udp)
        mapfile -t rules < <(echo "-A -u 10.10.0.100:9000 -s rr"; real_servers u 10.10.0.100:9000 9000 -m)
        gen_args=(--mode udp --vport 9000 --flows "$FLOWS")
        ;;
    syn)
        mapfile -t rules < <(echo "-A -t 10.10.0.100:80 -s rr"; real_servers t 10.10.0.100:80 8080 -m)
        gen_args=(--mode syn)
        ;;
    tcp-nat)
        mapfile -t rules < <(echo "-A -t 10.10.0.100:80 -s rr"; real_servers t 10.10.0.100:80 8080 -m)
        gen_args=(--mode tcp --concurrency "$CONC" --timeout-ms "$TIMEOUT_MS")
        ;;
    tcp-fullnat)
        mapfile -t rules < <(echo "-A -t 10.10.0.100:80 -s rr"; real_servers t 10.10.0.100:80 8080 --fullnat
            laddrs t 10.10.0.100:80)
        gen_args=(--mode tcp --concurrency "$CONC" --timeout-ms "$TIMEOUT_MS")
        ;;
    *) echo "gen-lab: unknown scenario $sc (udp, syn, tcp-nat, tcp-fullnat)" >&2; exit 1 ;;
    esac
    echo "gen-lab: scenario $sc (${SECS} s, count ${COUNT}, rate ${RATE})"
    start_rvsd "${rules[@]}"
    run_gen "$sc" "${gen_args[@]}"
    adm --dp-stats >"$RUN/$sc.dp"
    adm --show-neigh >"$RUN/$sc.neigh" 2>&1 || true
    stop_rvsd
    if [ -n "${GEN_OUT:-}" ]; then
        mkdir -p "$GEN_OUT"
        cp "$RUN/$sc.gen" "$RUN/$sc.dp" "$RUN/$sc.neigh" "$GEN_OUT"/
    fi
    {
        echo "---- $sc"
        grep '^rvs-gen: ' "$RUN/$sc.gen" | grep -v progress
        echo "rvsd: $(dp_summary "$RUN/$sc.dp")"
    } >>"$SUMMARY"
done

echo
echo "==== gen-lab summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, rvsd one worker, ${SERVERS} real servers)"
cat "$SUMMARY"
