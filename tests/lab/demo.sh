#!/usr/bin/env bash
# `make demo` / `make demo-stop`: the practical in the namespace lab, left running.
#   tests/lab/demo.sh up [WORKERS]    # 1 (default) or 2 workers
#   tests/lab/demo.sh down
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export RVS_PREFIX="${RVS_PREFIX:-rvsdemo-}"
export RVS_RUN_DIR="${RVS_RUN_DIR:-$ROOT/.lab-run/demo}"
export RVS_LAB_NO_TRAP=1
# shellcheck source=lab.sh
source "$ROOT/tests/lab/lab.sh"
lab_init

run() { # echo a command, then run it
    echo "\$ $*"
    "$@"
}

case "${1:-}" in
up)
    workers="${2:-1}"
    if [[ -e "/run/netns/${RVS_PREFIX}client" ]] || lab_rvsd_alive; then
        echo "the demo is already running (make demo-stop first)" >&2
        exit 1
    fi
    trap 'rc=$?; if ((rc)); then lab_diag; lab_down; fi; exit $rc' EXIT
    lab_up "$workers" nat
    adm="$RVSADM --socket $RVS_SOCK"
    run $adm -C
    run $adm -A -t 10.10.0.100:8990 -s rr
    run $adm -a -t 10.10.0.100:8990 -r 10.10.1.2:8998 -m
    run $adm -a -t 10.10.0.100:8990 -r 10.10.2.2:8999 -m
    run $adm -Ln
    for _ in 1 2; do
        echo "\$ ip netns exec ${RVS_PREFIX}client curl -s http://10.10.0.100:8990/"
        answer=$(lab_curl -H 'Connection: close' http://10.10.0.100:8990/) || true
        echo "${answer:-<no answer>}"
    done
    cat <<EOM

The demo is running ($workers worker(s); rvsd log: $RVS_RUN_DIR/rvsd.log).
  curl through the VIP:  ip netns exec ${RVS_PREFIX}client curl -s http://10.10.0.100:8990/
  rules and counters:    $adm -Ln --stats      (or RVS_SOCKET=$RVS_SOCK $RVSADM ...)
  dataplane counters:    $adm --dp-stats
  stop it:               make demo-stop
EOM
    ;;
down)
    lab_down
    echo "demo stopped"
    ;;
*)
    echo "usage: $0 up [WORKERS] | down" >&2
    exit 2
    ;;
esac
