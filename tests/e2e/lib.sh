#!/usr/bin/env bash
# Shared helpers for the end-to-end scripts (source it first thing; it sources tests/lab/lab.sh and sets
# `set -euo pipefail`). Each script brings its own lab up and relies on lab.sh's trap to tear it down.

set -euo pipefail
# shellcheck source=../lab/lab.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lab/lab.sh"

E2E_NAME="$(basename "$0" .sh)"
HTTP_VIP_PORT=8990
VIP_URL="http://$RVS_VIP:$HTTP_VIP_PORT"

# Stop the test with a message (the trap prints diagnostics and cleans up).
fail() {
    echo "FAIL [$E2E_NAME]: $*" >&2
    lab_diag
    exit 1
}

ok() { echo "ok [$E2E_NAME]: $*"; }

assert_eq() { # assert_eq EXPECTED ACTUAL WHAT
    [[ "$1" == "$2" ]] || fail "$3: expected [$1], got [$2]"
}

# |actual - expected| <= tolerance
assert_near() { # assert_near EXPECTED ACTUAL TOLERANCE WHAT
    local d=$(($2 - $1))
    ((d < 0)) && d=$((-d))
    ((d <= $3)) || fail "$4: expected $1 +- $3, got $2"
}

# Multi-line exact comparison with a diff on mismatch.
assert_text() { # assert_text EXPECTED ACTUAL WHAT
    if [[ "$1" != "$2" ]]; then
        diff -u <(printf '%s\n' "$1") <(printf '%s\n' "$2") >&2 || true
        fail "$3 differs (see diff above)"
    fi
}

# The -Ln header lines.
ln_header() {
    printf '%s\n' "IP Virtual Server version 1.2.1 (size=4096)" \
        "Prot LocalAddress:Port Scheduler Flags" \
        "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"
}

# One -Ln destination line, as ipvsadm formats it (trailing spaces included).
ln_dest() { # ln_dest ADDR:PORT FORWARD WEIGHT ACTIVE INACTIVE
    printf '  -> %-28s %-7s %-6d %-10d %-10d\n' "$1" "$2" "$3" "$4" "$5"
}

# N HTTP requests to the VIP, each on its own connection; prints "<rs1 count> <rs2 count> <failed or other>".
http_counts() { # http_counts N [URL]
    local n=$1 url=${2:-$VIP_URL} out
    out=$(lab_ns client timeout 120 curl -s --connect-timeout 3 --max-time 3 -H 'Connection: close' \
        "$url/?n=[1-$n]" || true)
    local rs1 rs2
    rs1=$(grep -cx rs1 <<<"$out" || true)
    rs2=$(grep -cx rs2 <<<"$out" || true)
    echo "$rs1 $rs2 $((n - rs1 - rs2))"
}

# The page behind the VIP, one new connection (empty output and status 0 on failure).
http_get() { lab_curl -H 'Connection: close' "${1:-$VIP_URL}/" || true; }

# Source addresses nginx saw, one per line (the first field of our log format).
rs_sources() { cut -d' ' -f1 "$RVS_RUN_DIR/nginx-$1/logs/access.log" 2>/dev/null || true; }

# Download /big.bin through URL and compare with the original.
check_big_download() { # check_big_download URL WHAT
    local got want
    got=$(lab_ns client timeout 60 curl -s --connect-timeout 3 --max-time 30 -H 'Connection: close' "$1/big.bin" |
        sha256sum | cut -d' ' -f1)
    want=$(cat "$RVS_RUN_DIR/big.sha256")
    assert_eq "$want" "$got" "$2: sha256 of the 4 MiB download"
}

# Values of counter NAME per lcore from `rvsadm --dp-stats` lines "lcore <id> <name> <value>": "<id> <value>" lines.
dp_counter() { # dp_counter STATS_TEXT NAME
    awk -v n="$2" '$1 == "lcore" && $3 == n { print $2, $4 }' <<<"$1"
}

# The standard two-dest TCP service: http_service SCHED FWD_FLAG [W1 W2]
http_service() {
    lab_rvsadm -A -t "$RVS_VIP:$HTTP_VIP_PORT" -s "$1"
    lab_rvsadm -a -t "$RVS_VIP:$HTTP_VIP_PORT" -r "$RVS_RS1_IP:$RVS_RS1_HTTP" "$2" -w "${3:-1}"
    lab_rvsadm -a -t "$RVS_VIP:$HTTP_VIP_PORT" -r "$RVS_RS2_IP:$RVS_RS2_HTTP" "$2" -w "${4:-1}"
    if [[ "$2" == --fullnat ]]; then
        lab_rvsadm --add-laddr -z "$RVS_LADDR1" -t "$RVS_VIP:$HTTP_VIP_PORT"
        lab_rvsadm --add-laddr -z "$RVS_LADDR2" -t "$RVS_VIP:$HTTP_VIP_PORT"
    fi
}
