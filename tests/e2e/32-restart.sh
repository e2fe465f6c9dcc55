#!/usr/bin/env bash
# Restart without loss: with [control] state_file, rvsd saves its rules after every change and loads them at
# start. Six times: from a known rule set (services, dests, local addresses, an ACL entry, a connection
# limit, timeouts), `rvsadm -R` of 1000 rule lines (-C then 333 services with 2 dests each: one Batch) is
# interrupted by kill -9 at a random moment; the restarted rvsd has exactly the old set or exactly the new
# set (the state file is written atomically and a Batch is saved whole), never a mix. A state file cut short
# by hand is refused at start with its name. No namespaces: rvsd's taps stay in the root namespace.
source "$(dirname "$0")/lib.sh"

lab_init
mkdir -p "$RVS_RUN_DIR"
lab_write_config 1
STATE="$RVS_RUN_DIR/rules.state"
sed -i "/^socket = /a state_file = \"$STATE\"" "$RVS_CONF"
grep -q "^state_file = " "$RVS_CONF" || fail "state_file not in the config"

restart() {
    rm -f "$RVS_SOCK"
    rm -rf -- "/var/run/dpdk/${RVS_PREFIX%-}"
    lab_start_rvsd || fail "rvsd did not restart"
}
kill9() {
    local pid
    pid=$(cat "$RVS_RUN_DIR/rvsd.pid")
    kill -KILL "$pid" 2>/dev/null || true
    local tries=100
    while ((tries-- > 0)) && kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
}

lab_start_rvsd || fail "rvsd did not start"
http_service wlc --fullnat 3 1
lab_rvsadm --add-acl -t "$RVS_VIP:$HTTP_VIP_PORT" --deny 10.10.0.66/32
lab_rvsadm --conn-limit 1000 -t "$RVS_VIP:$HTTP_VIP_PORT"
lab_rvsadm --set 600 100 200
OLD=$(lab_rvsadm -Sn)
OLD_T=$(lab_rvsadm -L --timeout)
kill9
restart
assert_text "$OLD" "$(lab_rvsadm -Sn)" "rules after kill -9 and restart"
assert_eq "$OLD_T" "$(lab_rvsadm -L --timeout)" "timeouts after kill -9 and restart"
ok "rules, local addresses, ACL, limit and timeouts survive kill -9"

{
    echo "-C"
    for i in $(seq 0 332); do
        vip="10.30.$((i / 200)).$((i % 200 + 1))"
        echo "-A -t $vip:80 -s rr"
        echo "-a -t $vip:80 -r 10.10.1.2:8998 -m -w 1"
        echo "-a -t $vip:80 -r 10.10.2.2:8999 -m -w 2"
    done
} >"$RVS_RUN_DIR/new.rules"
assert_eq 1000 "$(wc -l <"$RVS_RUN_DIR/new.rules")" "rule lines"

olds=0 news=0
for round in 1 2 3 4 5 6; do
    # Back to the old set, saved.
    printf '%s\n' "-C" "$OLD" | lab_rvsadm -R
    assert_text "$OLD" "$(lab_rvsadm -Sn)" "round $round: old set restored"
    lab_rvsadm -R <"$RVS_RUN_DIR/new.rules" >/dev/null 2>&1 &
    restore=$!
    # The whole restore takes a few tens of ms: kill within 0-80 ms, spread over the rounds.
    sleep "0.$(printf '%03d' $(((round - 1) * 13 + RANDOM % 13)))"
    kill9
    wait "$restore" || true
    restart
    now=$(lab_rvsadm -Sn)
    if [[ "$now" == "$OLD" ]]; then
        olds=$((olds + 1))
    elif [[ "$(grep -c '^-A' <<<"$now")" == 333 && "$(grep -c '^-a' <<<"$now")" == 666 ]] &&
        ! grep -q "$RVS_VIP" <<<"$now"; then
        news=$((news + 1))
        NEW=$now
    else
        fail "round $round: neither the old nor the new set: $(grep -c '^-A' <<<"$now") services, $(grep -c '^-a' <<<"$now") dests"
    fi
    [[ ! -e "$(dirname "$STATE")/.$(basename "$STATE").tmp" ]] || lab_log "round $round: an interrupted write left its temporary file (ignored)"
done
ok "6 kill -9 during a 1000-line -R: $olds time(s) the old set, $news time(s) the whole new set, never a mix"

# The new set in full, once, to compare with what a finished restore gives.
lab_rvsadm -R <"$RVS_RUN_DIR/new.rules"
FULL=$(lab_rvsadm -Sn)
[[ -z "${NEW:-}" ]] || assert_text "$FULL" "$NEW" "the new set after a restart equals the finished restore"

# A damaged state file stops rvsd at start, naming it.
kill9
head -n 100 "$STATE" >"$STATE.cut" && mv "$STATE.cut" "$STATE"
rm -f "$RVS_SOCK"
rm -rf -- "/var/run/dpdk/${RVS_PREFIX%-}"
if lab_start_rvsd 2>/dev/null; then fail "rvsd started from a truncated state file"; fi
grep -q "state file: $STATE: truncated" "$RVS_RUN_DIR/rvsd.log" || fail "no clear error: $(tail -n 3 "$RVS_RUN_DIR/rvsd.log")"
ok "a truncated state file is refused at start: $(grep -o 'truncated.*' "$RVS_RUN_DIR/rvsd.log" | head -n1)"
