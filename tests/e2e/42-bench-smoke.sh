#!/usr/bin/env bash
# rvs-bench end to end, small: every mode with one worker against testpmd (rows, zero drops, testpmd
# references and ratios in the CSV), then two workers with flow ownership on, steered as a NIC's RSS
# would (packets handed off between the workers, none processed by a worker that does not own it) and
# steered by the owner rule (no hand-off, no drop). rvs-bench itself fails when a scenario's packets
# in differ from sent + dropped or when the sessions set up differ from the sessions asked for.
# No namespaces: DPDK net_null ports in one process (per-process EAL file prefix); about 20 s.
set -euo pipefail
NAME=42-bench-smoke
BIN="${RVS_BIN_DIR:-${CARGO_TARGET_DIR:-target}/release}/rvs-bench"
TMP=$(mktemp -d "/tmp/rvs-e2e-bench.${RVS_PREFIX:-x}XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail() {
    echo "FAIL [$NAME]: $*" >&2
    exit 1
}
ok() { echo "ok [$NAME]: $*"; }
[[ -x "$BIN" ]] || fail "no $BIN (cargo build --release -p rvs-dataplane --bin rvs-bench)"

# Field of the CSV line whose `name` column (2) is $2, by column name $3.
col() { # col FILE NAME COLUMN
    awk -F, -v name="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $2 == name { print $idx[c]; exit }' "$1"
}

timeout 120 "$BIN" --workers 1 --packets 20000 --sessions 1000 --testpmd-secs 1 --out "$TMP/one.csv" \
    >"$TMP/one.log" 2>&1 || { tail -n 20 "$TMP/one.log"; fail "one worker: rvs-bench failed"; }
expected="nat_new_1000 nat_in_1000 nat_out_1000 fullnat_new_1000 fullnat_in_1000 fullnat_out_1000 dr_new_1000 dr_in_1000 tun_new_1000 tun_in_1000 tungue_new_1000 tungue_in_1000 tungre_new_1000 tungre_in_1000"
got=$(awk -F, '$1 == "rvs" { printf "%s%s", sep, $2; sep = " " }' "$TMP/one.csv")
[[ "$got" == "$expected" ]] || fail "one worker: scenarios [$got], expected [$expected]"
for s in $expected; do
    [[ $(col "$TMP/one.csv" "$s" dropped) == 0 ]] || fail "$s: drops"
    [[ $(col "$TMP/one.csv" "$s" handoff) == 0 ]] || fail "$s: hand-offs with one worker"
    p=$(col "$TMP/one.csv" "$s" packets)
    case $s in *_new_*) want=1000 ;; *) want=20000 ;; esac
    [[ "$p" == "$want" ]] || fail "$s: $p packets, expected $want"
    awk -v r="$(col "$TMP/one.csv" "$s" ratio_io)" 'BEGIN { exit !(r > 0) }' || fail "$s: no ratio to testpmd io"
done
for ref in testpmd_io testpmd_macswap; do
    awk -v m="$(col "$TMP/one.csv" "$ref" mpps_total)" 'BEGIN { exit !(m > 0) }' || fail "no $ref rate"
done
ok "one worker: 14 scenarios over 6 modes, no drop, testpmd io and macswap references and ratios"

for steer in rss owner; do
    timeout 120 "$BIN" --workers 2 --steer "$steer" --modes nat,fullnat --packets 20000 --sessions 1000 \
        --testpmd-secs 0 --out "$TMP/$steer.csv" >"$TMP/$steer.log" 2>&1 ||
        { tail -n 20 "$TMP/$steer.log"; fail "two workers ($steer): rvs-bench failed"; }
    for s in nat_in_1000 nat_out_1000 fullnat_in_1000 fullnat_out_1000; do
        [[ $(col "$TMP/$steer.csv" "$s" workers) == 2 ]] || fail "$s ($steer): not two workers"
        [[ $(col "$TMP/$steer.csv" "$s" packets) == 20000 ]] || fail "$s ($steer): packets"
        [[ $(col "$TMP/$steer.csv" "$s" misowned) == 0 ]] || fail "$s ($steer): misowned packets"
        h=$(col "$TMP/$steer.csv" "$s" handoff)
        d=$(col "$TMP/$steer.csv" "$s" dropped)
        if [[ $steer == rss ]]; then
            # About half the flows belong to the other worker: handed off, or dropped at a full ring.
            ((h + d > 2000)) || fail "$s (rss): $h hand-offs and $d drops, expected about 10000"
            [[ $d == 0 ]] || [[ $(col "$TMP/$steer.csv" "$s" drop_reasons) == "handoff_full=$d" ]] ||
                fail "$s (rss): drops other than handoff_full: $(col "$TMP/$steer.csv" "$s" drop_reasons)"
        else
            [[ $h == 0 && $d == 0 ]] || fail "$s (owner): $h hand-offs, $d drops, expected none"
        fi
    done
    ok "two workers, $steer steering: ownership held (misowned 0), hand-offs $([[ $steer == rss ]] && echo present || echo absent)"
done
