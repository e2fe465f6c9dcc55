#!/usr/bin/env bash
# bench/virtio-lab.sh: `make lab`. rvsd on two net_vhost ports, dpdk-testpmd on virtio_user as traffic source
# and sink, end to end, bounded in time, cleaned up by a trap. Needs root (hugepages for virtio_user).
#
#   testpmd "src" (txonly)     virtio_user0 ==vhost-user== net_vhost0 port 0 "client" 10.10.0.1/24 \
#     UDP 10.10.0.2:9000 -> VIP 10.10.0.100:9000                                                      rvsd (NAT)
#   testpmd "sink" (rxonly)    virtio_user1 ==vhost-user== net_vhost1 port 1 "rs"     10.10.1.1/24 /
#     real server 10.10.1.2 at MAC $SINK_MAC (virtio_user's mac= devarg), a static neighbour of rvsd
#     ([[neighbour]] in its config: no ARP needed); counts and frees everything
#
# Why two testpmd processes: testpmd's forwarding mode is per process, and txonly never receives. (Before rvsd
# had static neighbours the sink had to be icmpecho, the one mode that answers ARP.) rvs-gen (bench/gen-lab.sh)
# is source, responder and sink in one process.
#
# CPUs (2 vCPUs): rvsd's worker has CPU 1 to itself; both testpmd forwarding lcores share CPU 0 (the sink only
# has what rvsd forwards to count). Main lcores sleep. Figures swing from run to run (see BENCHMARKS.md).
#
# Environment: LAB_SECONDS (measured interval, default 10), LAB_WARMUP (default 3), RVS_BIN_DIR (where rvsd and
# rvsadm are; default $CARGO_TARGET_DIR/release or target/release), LAB_FWD (m = NAT, default; or f = FULLNAT),
# LAB_RING (virtio ring size, default 1024), LAB_SINK_CPU (0 or 1, see below), LAB_KEEP_LOGS (a directory where the processes' logs and rvsd's config are copied before cleanup).
set -euo pipefail

SECONDS_MEASURED=${LAB_SECONDS:-10}
WARMUP=${LAB_WARMUP:-3}
FWD=${LAB_FWD:-m}
# virtio ring size: large rings absorb the time slices in which the sink is descheduled.
RING=${LAB_RING:-1024}
# The sink's MAC, known before it starts: rvsd's static neighbour for the real server.
SINK_MAC=02:00:00:00:01:02
# CPU of the sink's forwarding lcore: 0 (with the source, default) or 1 (with rvsd's worker).
SINK_CPU=${LAB_SINK_CPU:-0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${RVS_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}
RVSD=$BIN/rvsd
RVSADM=$BIN/rvsadm
TESTPMD=${TESTPMD:-dpdk-testpmd}

[ "$(id -u)" = 0 ] || { echo "virtio-lab: needs root (hugepages, vhost-user sockets)" >&2; exit 1; }
for b in "$RVSD" "$RVSADM"; do
    [ -x "$b" ] || { echo "virtio-lab: $b missing (cargo build --release)" >&2; exit 1; }
done
command -v "$TESTPMD" >/dev/null || { echo "virtio-lab: dpdk-testpmd missing (package dpdk-dev)" >&2; exit 1; }

TAG="rvslab$$"
RUN=$(mktemp -d "/tmp/$TAG.XXXXXX")
SOCK="$RUN/rvsd.sock"
RVSD_PID="" SRC_PID="" SINK_PID=""
# The whole run is bounded: every process gets a timeout well past the planned end.
LIFE=$((WARMUP + SECONDS_MEASURED + 40))

stop_pid() { # stop_pid PID SIGNAL SECONDS: signal, wait up to SECONDS, then KILL
    local pid=$1 sig=$2 secs=$3 i
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill "-$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    # PID is a `timeout` wrapper: kill what it runs first (by parent id), then the wrapper.
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    # The traffic source first, then the sink (virtio_user may hang if the vhost side leaves first), then rvsd.
    stop_pid "$SRC_PID" INT 5
    stop_pid "$SINK_PID" INT 5
    stop_pid "$RVSD_PID" TERM 5
    if [ -n "${LAB_KEEP_LOGS:-}" ]; then mkdir -p "$LAB_KEEP_LOGS" && cp "$RUN"/*.log "$RUN"/*.toml "$LAB_KEEP_LOGS"/ 2>/dev/null || true; fi
    rm -rf "$RUN" "/var/run/dpdk/$TAG-rvsd" "/var/run/dpdk/$TAG-src" "/var/run/dpdk/$TAG-sink"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# virtio_user shares its memory with the vhost side by file descriptor: hugepages (--in-memory uses memfd, no
# hugetlbfs mount needed). Never lower a setting another user may rely on.
hp=$(cat /proc/sys/vm/nr_hugepages)
if [ "$hp" -lt 256 ]; then echo 256 >/proc/sys/vm/nr_hugepages; fi

case "$FWD" in
m) FWD_FLAG="-m" LADDR_RULE="" ;;
f) FWD_FLAG="--fullnat" LADDR_RULE='"--add-laddr -z 10.10.1.100 -u 10.10.0.100:9000",' ;;
*) echo "virtio-lab: LAB_FWD must be m (NAT) or f (FULLNAT)" >&2; exit 1 ;;
esac

cat >"$RUN/rvsd.toml" <<EOF
[eal]
args = ["--no-huge", "-m", "512", "--no-pci", "--file-prefix", "$TAG-rvsd", "--lcores", "0@0,1@1"]

[dataplane]
workers = [1]
idle_backoff_us = 0
mbufs = 16383

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

[[neighbour]]
port = "rs"
ip = "10.10.1.2"
mac = "$SINK_MAC"

[services]
rules = [
    "-A -u 10.10.0.100:9000 -s rr",
    "-a -u 10.10.0.100:9000 -r 10.10.1.2:9000 $FWD_FLAG",
    $LADDR_RULE
]
EOF

adm() { timeout 5 "$RVSADM" --socket "$SOCK" "$@"; }

echo "virtio-lab: run dir $RUN, EAL prefixes $TAG-{rvsd,src,sink}, forwarding -$FWD"
RUST_LOG=${RUST_LOG:-warn} timeout -k 5 "$LIFE" "$RVSD" --config "$RUN/rvsd.toml" --socket "$SOCK" \
    >"$RUN/rvsd.log" 2>&1 &
RVSD_PID=$!
for ((i = 0; i < 100; i++)); do
    adm --show-links >"$RUN/links0" 2>/dev/null && break
    kill -0 "$RVSD_PID" 2>/dev/null || { cat "$RUN/rvsd.log"; echo "virtio-lab: rvsd exited" >&2; exit 1; }
    sleep 0.2
done
[ -s "$RUN/links0" ] || { cat "$RUN/rvsd.log"; echo "virtio-lab: rvsd control socket never answered" >&2; exit 1; }
mac_of() { awk -v n="$1" '$1 == "port" && $3 == n":" { for (i = 1; i < NF; i++) if ($i == "mac") print $(i + 1) }' "$RUN/links0"; }
MAC0=$(mac_of client)
MAC1=$(mac_of rs)
echo "virtio-lab: rvsd up, port client mac $MAC0, port rs mac $MAC1"

# testpmd runs non-interactive with --stats-period (it then loops until SIGINT, printing per-port rates) and
# prints its forward statistics at exit (with --stats-period it never reads stdin).
testpmd() { # testpmd NAME FORWARDING-CPU VDEV-ARGS TESTPMD-ARGS...
    local name=$1 cpu=$2 vdev=$3
    shift 3
    timeout -s INT -k 5 "$LIFE" "$TESTPMD" -l 0-1 --main-lcore $((1 - cpu)) --no-pci --in-memory --single-file-segments --iova-mode=va \
        --file-prefix "$TAG-$name" --vdev "$vdev" -- --nb-cores=1 --rxq=1 --txq=1 --rxd="$RING" --txd="$RING" --total-num-mbufs=16384 \
        --stats-period 1 "$@" </dev/null >"$RUN/$name.log" 2>&1 &
}

testpmd sink "$SINK_CPU" "net_virtio_user1,path=$RUN/rs.vhost,queues=1,queue_size=$RING,mac=$SINK_MAC" --forward-mode=rxonly
SINK_PID=$!
for ((i = 0; i < 100; i++)); do
    grep -q "Tx-pps" "$RUN/sink.log" 2>/dev/null && break
    kill -0 "$SINK_PID" 2>/dev/null || { cat "$RUN/sink.log"; echo "virtio-lab: sink testpmd exited" >&2; exit 1; }
    sleep 0.2
done

testpmd src 0 "net_virtio_user0,path=$RUN/client.vhost,queues=1,queue_size=$RING" --forward-mode=txonly --txpkts=64 \
    --tx-ip=10.10.0.2,10.10.0.100 --tx-udp=9000,9000 --eth-peer="0,$MAC0"
SRC_PID=$!
sleep "$WARMUP"
kill -0 "$SRC_PID" 2>/dev/null || { cat "$RUN/src.log"; echo "virtio-lab: source testpmd exited" >&2; exit 1; }

adm --show-links >"$RUN/links1"
adm --dp-stats >"$RUN/dp1"
t1=$(date +%s.%N)
src_lines1=$(grep -c "Tx-pps" "$RUN/src.log" || true)
sink_lines1=$(grep -c "Rx-pps" "$RUN/sink.log" || true)
sleep "$SECONDS_MEASURED"
adm --show-links >"$RUN/links2"
adm --dp-stats >"$RUN/dp2"
t2=$(date +%s.%N)
adm --show-neigh >"$RUN/neigh" 2>&1 || true

stop_pid "$SRC_PID" INT 5
SRC_PID=""
sleep 0.5
stop_pid "$SINK_PID" INT 5
SINK_PID=""

# Per-port totals from --show-links' per-lcore lines: "<port name> <rx> <tx> <tx_dropped>".
port_totals() {
    awk '$1 == "port" { name = $3; sub(":", "", name) }
         $1 == "lcore" && $3 == "rx_packets" { rx[name] += $4; tx[name] += $6; dr[name] += $8 }
         END { for (n in rx) print n, rx[n], tx[n], dr[n] }' "$1" | sort
}
dt=$(echo "$t2 $t1" | awk '{ printf "%.3f", $1 - $2 }')
# Median of the per-second rates testpmd printed during the measured interval.
median_rate() { # FILE KEY SKIP
    grep "$2" "$1" | tail -n +"$(($3 + 1))" | head -n "$SECONDS_MEASURED" | awk '{ print $2 }' | sort -n |
        awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'
}
src_pps=$(median_rate "$RUN/src.log" Tx-pps "$src_lines1")
sink_pps=$(median_rate "$RUN/sink.log" Rx-pps "$sink_lines1")
src_total=$(awk '/Forward statistics for port 0/ { f = 1 } f && /TX-packets/ { print $2 " sent, " $4 " refused by a full ring"; exit }' "$RUN/src.log")
sink_total=$(awk '/Forward statistics for port 0/ { f = 1 } f && /RX-packets/ { print $2; exit }' "$RUN/sink.log")

echo
echo "==== virtio-lab summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, measured over ${dt} s, 64-byte UDP, -$FWD)"
printf "testpmd src  (txonly, virtio_user0) tx: %12s pps (median of per-second rates)  total %s\n" "$src_pps" "${src_total:-?}"
printf "testpmd sink (rxonly, virtio_user1)   rx: %10s pps (median of per-second rates)  total %s\n" "$sink_pps" "${sink_total:-?}"
join <(port_totals "$RUN/links1") <(port_totals "$RUN/links2") |
    awk -v dt="$dt" '{ printf "rvsd port %-7s rx %12.0f pps (%6.3f Mpps)  tx %12.0f pps (%6.3f Mpps)  tx_dropped %10.0f pps\n",
        $1, ($5 - $2) / dt, ($5 - $2) / dt / 1e6, ($6 - $3) / dt, ($6 - $3) / dt / 1e6, ($7 - $4) / dt }'
echo "rvsd --dp-stats counters that moved during the interval (delta):"
dp_keyed() { awk '{ v = $NF; $NF = ""; sub(/ +$/, ""); gsub(/ /, "_"); print $0, v }' "$1" | sort; }
join <(dp_keyed "$RUN/dp1") <(dp_keyed "$RUN/dp2") |
    awk '$3 != $2 { printf "  %-40s %14d\n", $1, $3 - $2 }'
echo "rvsd neighbours:"
sed 's/^/  /' "$RUN/neigh"
