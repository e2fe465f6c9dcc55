#!/usr/bin/env bash
# Control-plane scale against a real rvsd in the namespace lab: restore N services x M real servers with
# `rvsadm -R`, list them with `rvsadm -Ln`, save them with `rvsadm -S -n` (checked equal to the input), then
# the same restore one rule per request (a `-L --timeout` line after every rule forces rvsadm to send each rule
# alone, as before batching) for comparison. Prints one `name seconds` line per measurement.
#
# Usage (root): bench/control-scale.sh [SERVICES] [DESTS] [UNBATCHED_SERVICES]
#   defaults 10000 4 1000; RVS_BIN_DIR as for tests/lab/lab.sh (release binaries).
set -euo pipefail
N=${1:-10000}
M=${2:-4}
N_UNBATCHED=${3:-1000}

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../tests/lab/lab.sh
source "$ROOT/tests/lab/lab.sh"
lab_up 1 nat >/dev/null 2>&1 || {
    echo "lab did not come up" >&2
    exit 1
}

rules="$RVS_RUN_DIR/rules"
# Services on the VIP, one port each (10000.. ), M masqueraded real servers each on rs1 (ports 20000..).
gen_rules() { # gen_rules COUNT [EXTRA_LINE_AFTER_EACH_RULE]
    awk -v n="$1" -v m="$M" -v extra="${2:-}" 'BEGIN {
        for (i = 0; i < n; i++) {
            svc = sprintf("-t 10.10.0.100:%d", 10000 + i)
            print "-A " svc " -s rr"; if (extra != "") print extra
            for (j = 0; j < m; j++) {
                printf "-a %s -r 10.10.1.2:%d -m -w 1\n", svc, 20000 + j
                if (extra != "") print extra
            }
        }
    }'
}
gen_rules "$N" >"$rules"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

t0=$(now)
lab_rvsadm -R <"$rules"
t1=$(now)
echo "restore_${N}x${M}_batched $(elapsed "$t0" "$t1")"

t0=$(now)
lab_rvsadm -Ln >"$RVS_RUN_DIR/list"
t1=$(now)
echo "list_${N}x${M} $(elapsed "$t0" "$t1")"
lines=$(wc -l <"$RVS_RUN_DIR/list")
[[ $lines == $((3 + N + N * M)) ]] || {
    echo "-Ln printed $lines lines, expected $((3 + N + N * M))" >&2
    exit 1
}

t0=$(now)
lab_rvsadm -S -n >"$RVS_RUN_DIR/saved"
t1=$(now)
echo "save_${N}x${M} $(elapsed "$t0" "$t1")"
cmp -s "$rules" "$RVS_RUN_DIR/saved" || {
    echo "-S -n differs from the restored rules" >&2
    diff "$rules" "$RVS_RUN_DIR/saved" | head >&2
    exit 1
}

lab_rvsadm -C
gen_rules "$N_UNBATCHED" "-L --timeout" >"$rules.unbatched"
t0=$(now)
lab_rvsadm -R <"$rules.unbatched" >/dev/null
t1=$(now)
echo "restore_${N_UNBATCHED}x${M}_one_request_per_rule $(elapsed "$t0" "$t1")"
