#!/usr/bin/env bash
# Scaling of the dataplane over worker lcores: `rvs-bench --workers N` for N in 1 2 4 8 (counts above
# the CPUs present are skipped), each N with flow ownership on (the owner rule and the hand-off mesh)
# and two steerings of the flows over the workers' rx queues: `rss` (as a NIC's RSS spreads them:
# most packets reach a worker that does not own their flow and are handed off) and `owner` (a NIC
# steering by our flow hash: no hand-off, the upper bound). Each run also measures dpdk-testpmd io and
# macswap with the same number of forwarding cores, so every figure has its reference from the same
# invocation. Prints the curve (forwarded Mpps of all workers, per worker, hand-offs, drops, ratio to
# one worker) and the largest-vs-1 ratio (target: 8 workers at 7x one worker or better).
#
# Lcore mapping: worker i runs as EAL lcore i on the i-th CPU of CPUS (default 0 1 2 ... N-1), i.e.
# `--lcores 0@c0,1@c1,...`. On a 16-core machine with SMT, give one CPU per physical core, e.g.
# CPUS="0 1 2 3 4 5 6 7" where 8-15 are the siblings (see `lscpu -e`), and keep other load off them.
#
# Usage: bench/scaling.sh        (env: WORKERS="1 2 4 8", STEERS="rss owner", MODES=nat,
#   SESSIONS=1000000, PACKETS=5000000 (all workers together), TESTPMD_SECS=3, CPUS, OUT=dir for the
#   CSV files and logs, RVS_BENCH=path of the binary; REPORT_ONLY=1 prints the curve again from the
#   CSV files already in OUT without running anything)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:/root/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
WORKERS=${WORKERS:-"1 2 4 8"}
STEERS=${STEERS:-"rss owner"}
MODES=${MODES:-nat}
SESSIONS=${SESSIONS:-1000000}
PACKETS=${PACKETS:-5000000}
TESTPMD_SECS=${TESTPMD_SECS:-3}
OUT=${OUT:-$CARGO_TARGET_DIR/scaling}
NCPU=$(nproc)
read -r -a ALLCPUS <<<"${CPUS:-$(seq -s ' ' 0 $((NCPU - 1)))}"
if [ -z "${RVS_BENCH:-}" ] && [ "${REPORT_ONLY:-0}" != 1 ]; then
  cargo build --release -q -p rvs-dataplane --bin rvs-bench
  RVS_BENCH=$CARGO_TARGET_DIR/release/rvs-bench
fi
mkdir -p "$OUT"
echo "scaling.sh: $(date -u +%FT%TZ), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  modes $MODES, $SESSIONS sessions, $PACKETS packets per scenario (all workers), steering: $STEERS"

ran=()
[ "${REPORT_ONLY:-0}" = 1 ] && WORKERS_RUN="" || WORKERS_RUN=$WORKERS
if [ "${REPORT_ONLY:-0}" = 1 ]; then
  for n in $WORKERS; do for steer in $STEERS; do
    [ -f "$OUT/w$n-$steer.csv" ] && ran+=("$OUT/w$n-$steer.csv")
  done; done
  [ "${#ran[@]}" -gt 0 ] || { echo "scaling.sh: no results in $OUT"; exit 1; }
fi
for n in $WORKERS_RUN; do
  if [ "$n" -gt "${#ALLCPUS[@]}" ]; then
    echo "  $n workers: skipped (${#ALLCPUS[@]} CPUs listed)"
    continue
  fi
  cpus=$(IFS=,; echo "${ALLCPUS[*]:0:$n}")
  first=""
  for steer in $STEERS; do
    csv=$OUT/w$n-$steer.csv
    log=$OUT/w$n-$steer.log
    if [ "$n" = 1 ] && [ -n "$first" ]; then
      # One worker owns every flow whatever the steering: the same run serves every steering.
      awk -F, -v OFS=, -v s="$steer" '$1 == "rvs" { $7 = s } 1' "$first" >"$csv"
      ran+=("$csv")
      continue
    fi
    echo "  running: $RVS_BENCH --workers $n --cpus $cpus --steer $steer --modes $MODES --sessions $SESSIONS --packets $PACKETS --testpmd-secs $TESTPMD_SECS --out $csv"
    # Bounded: set-up of 1 M sessions and 3 scenarios take well under a minute per run on 2 vCPUs.
    if ! timeout 900 "$RVS_BENCH" --workers "$n" --cpus "$cpus" --steer "$steer" --modes "$MODES" \
      --sessions "$SESSIONS" --packets "$PACKETS" --testpmd-secs "$TESTPMD_SECS" --out "$csv" >"$log" 2>&1; then
      echo "  rvs-bench failed, see $log"
      tail -n 5 "$log"
      exit 1
    fi
    ran+=("$csv")
    first=$csv
  done
done

# The curve: one line per scenario, steering and worker count; ratio to the same scenario and
# steering with 1 worker (when it ran).
echo
printf '%-22s %-6s %7s %12s %12s %10s %10s %9s %9s %9s\n' scenario steer workers "Mpps fwd" "per worker" handoff dropped "vs 1 w." "vs io" "io Mpps"
AWK_COMMON='
  FNR == 1 { next }
  $1 == "testpmd" && $3 == "io" { io[FILENAME] = $14; next }
  $1 == "rvs" { key = $2 SUBSEP $7; w = $6 + 0; fwd = $14 + 0
    line[++n] = $2 SUBSEP $7 SUBSEP w SUBSEP fwd SUBSEP $18 SUBSEP $17 SUBSEP FILENAME
    if (w == 1) one[key] = fwd }'
awk -F, "$AWK_COMMON"'
  END {
    for (i = 1; i <= n; i++) {
      split(line[i], f, SUBSEP); key = f[1] SUBSEP f[2]
      vs1 = (key in one && one[key] > 0) ? sprintf("%.2fx", f[4] / one[key]) : "-"
      vio = (io[f[7]] > 0) ? sprintf("%.3f", f[4] / io[f[7]]) : "-"
      printf "%-22s %-6s %7d %12.2f %12.2f %10d %10d %9s %9s %9.1f\n", f[1], f[2], f[3], f[4], f[4] / f[3], f[5], f[6], vs1, vio, io[f[7]]
    }
  }' "${ran[@]}" | LC_ALL=C sort -b -k2,2 -k1,1 -k3,3n
echo
awk -F, "$AWK_COMMON"'
  END {
    for (i = 1; i <= n; i++) {
      split(line[i], f, SUBSEP); key = f[1] SUBSEP f[2]
      if (f[3] > best[key]) { best[key] = f[3]; bestv[key] = f[4] }
    }
    for (k in best) {
      split(k, f, SUBSEP)
      if (k in one && one[k] > 0 && best[k] > 1)
        printf "%s, steering %s: %d workers at %.2fx one worker (target: 8 workers at 7x or better)\n", f[1], f[2], best[k], bestv[k] / one[k]
    }
  }' "${ran[@]}" | LC_ALL=C sort
