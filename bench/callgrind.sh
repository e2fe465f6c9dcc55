#!/usr/bin/env bash
# Instructions per packet of every rvs-bench scenario, counted by callgrind: the figure that repeats
# exactly from run to run (timings on shared 2-vCPU machines do not), kept in BENCHMARKS.md so that a
# regression shows at once.
#
# Each scenario runs in its own process: `rvs-bench --only NAME` under
# `valgrind --tool=callgrind --toggle-collect=*measured_run*`, so only the measured phase is counted
# (not EAL start-up, not session set-up). The generator's frame writes (`gen_fill`, standing in for
# the NIC) are subtracted using their inclusive count. Per scenario it leaves NAME.out (callgrind
# data), NAME.top (the top functions, exclusive) and NAME.log under $OUT.
#
# With CACHESIM=1, callgrind also simulates the caches (L1 as detected; last level LL=size,assoc,line,
# default 32 MiB 16-way as this machine's L3, which valgrind misdetects) and the last columns give L1
# and last-level data cache misses (reads + writes) per packet: the cost that instruction counts do
# not show (1 M sessions).
#
# Usage: bench/callgrind.sh     (PACKETS, SESSIONS, MODES, DIRS, OUT, CACHESIM may be set in the env;
#   MODES among nat fullnat dr tun tungue tungre)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/root/.cargo/bin:$PATH"
PACKETS=${PACKETS:-100000}
SESSIONS=${SESSIONS:-"1000 1000000"}
MODES=${MODES:-"nat fullnat"}
DIRS=${DIRS:-"new in out"}
CACHESIM=${CACHESIM:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
OUT=${OUT:-$CARGO_TARGET_DIR/callgrind}
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)"; exit 1; }
cargo build --release -q -p rvs-dataplane --bin rvs-bench
BIN=$CARGO_TARGET_DIR/release/rvs-bench
mkdir -p "$OUT"

# First number (commas removed) of the first line of $2 matching $1.
num() { awk -v pat="$1" '$0 ~ pat { gsub(",", "", $1); print $1; exit }' <<<"$2"; }

sim=()
if [ "$CACHESIM" = 1 ]; then
  sim=(--cache-sim=yes "--LL=${LL:-33554432,16,64}")
  printf '%-24s %9s %15s %12s %10s %12s %12s\n' scenario packets instructions "gen (sub.)" instr/pkt D1-miss/pkt LLd-miss/pkt
else
  printf '%-24s %9s %15s %12s %10s\n' scenario packets instructions "gen (sub.)" instr/pkt
fi
for mode in $MODES; do
  for n in $SESSIONS; do
    for dir in $DIRS; do
      name=${mode}_${dir}_${n}
      # DR and the tunnels: the replies do not pass through us, there is no `out` scenario.
      case "$mode:$dir" in nat:* | fullnat:* | *:new | *:in) ;; *) continue ;; esac
      packets=$PACKETS
      [ "$dir" = new ] && packets=$n
      rm -f "$OUT/$name.out"
      if ! valgrind --tool=callgrind "${sim[@]}" --callgrind-out-file="$OUT/$name.out" \
        --toggle-collect='*measured_run*' \
        "$BIN" --only "$name" --packets "$PACKETS" --sessions "$n" --modes "$mode" \
        --mem-mb 256 --testpmd-secs 0 >"$OUT/$name.log" 2>&1; then
        echo "$name: rvs-bench failed, see $OUT/$name.log"
        exit 1
      fi
      excl=$(callgrind_annotate "$OUT/$name.out" 2>/dev/null)
      incl=$(callgrind_annotate --inclusive=yes "$OUT/$name.out" 2>/dev/null)
      total=$(num 'PROGRAM TOTALS' "$excl")
      gen=$(num 'gen_fill' "$incl")
      gen=${gen:-0}
      head -n 45 <<<"$excl" >"$OUT/$name.top"
      per=$(awk -v t="$total" -v g="$gen" -v p="$packets" 'BEGIN { printf "%.0f", (t - g) / p }')
      if [ "$CACHESIM" = 1 ]; then
        # Events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw; totals line of the whole measured phase
        # (the generator's misses are included: it writes the frames, as a NIC's DMA would).
        d1miss=$(awk '/^totals:/ { printf "%.2f", ($6 + $7) / p }' p="$packets" "$OUT/$name.out")
        llmiss=$(awk '/^totals:/ { printf "%.2f", ($9 + $10) / p }' p="$packets" "$OUT/$name.out")
        printf '%-24s %9d %15d %12d %10s %12s %12s\n' "$name" "$packets" "$total" "$gen" "$per" "$d1miss" "$llmiss"
      else
        printf '%-24s %9d %15d %12d %10s\n' "$name" "$packets" "$total" "$gen" "$per"
      fi
    done
  done
done
