#!/usr/bin/env bash
# Runs the end-to-end scripts (tests/e2e/NN-*.sh, or those named as arguments) one after another, each with its
# own lab prefix and a time limit, and cleans up after any that was killed. The last line is
# "N passed, N failed"; the exit status is non-zero when any failed.
#
# Environment: RVS_E2E_TIMEOUT (seconds per script, default 240), RVS_E2E_LOG_DIR (default a fresh /tmp dir; the
# logs of every script stay there), RVS_BIN_DIR (rvsd and rvsadm; see tests/lab/lab.sh).
set -uo pipefail

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$E2E_DIR/../.." && pwd)"
cd "$ROOT" || exit 2
TIMEOUT="${RVS_E2E_TIMEOUT:-240}"
LOG_DIR="${RVS_E2E_LOG_DIR:-$(mktemp -d /tmp/rvs-e2e-logs.XXXXXX)}"
mkdir -p "$LOG_DIR"

if [[ $(id -u) != 0 ]]; then
    echo "tests/e2e/run.sh needs root (network namespaces)" >&2
    echo "0 passed, 1 failed"
    exit 1
fi

if (($#)); then
    tests=("$@")
else
    tests=("$E2E_DIR"/[0-9][0-9]-*.sh)
fi

passed=0 failed=0 failed_names=()
i=0
for t in "${tests[@]}"; do
    i=$((i + 1))
    name="$(basename "$t" .sh)"
    prefix="re$(($$ % 10000))$(printf %02d "$i")-"
    run_dir="/tmp/rvs-e2e.${prefix%-}"
    log="$LOG_DIR/$name.log"
    start=$(date +%s)
    RVS_PREFIX="$prefix" RVS_RUN_DIR="$run_dir" timeout -k 15 "$TIMEOUT" bash "$t" >"$log" 2>&1
    rc=$?
    secs=$(($(date +%s) - start))
    # Whatever a killed script could not clean up (lab_down is idempotent and only touches this prefix).
    (
        source "$ROOT/tests/lab/lab.sh"
        RVS_PREFIX="$prefix" RVS_RUN_DIR="$run_dir"
        lab_down
    ) >>"$log" 2>&1
    if ((rc == 0)); then
        passed=$((passed + 1))
        echo "PASS $name (${secs}s)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        if ((rc == 124 || rc == 137)); then
            echo "FAIL $name (timed out after ${TIMEOUT}s)"
        else
            echo "FAIL $name (exit $rc, ${secs}s)"
        fi
        tail -n 40 "$log" | sed 's/^/    | /'
    fi
done

echo "logs: $LOG_DIR"
((failed)) && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
((failed == 0))
