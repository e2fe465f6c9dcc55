#!/usr/bin/env bash
# Access control per service: a denied client's connection fails and is counted (drop.acl_denied, --get-acl),
# an allowed client works; an allow list admits only its prefixes; a connection limit refuses the connection
# beyond it (drop.conn_limit) and lifting it restores service; -S saves the entries and the limit, -R restores
# them.
source "$(dirname "$0")/lib.sh"

lab_up 1 nat
http_service rr -m
lab_ns client ip addr add 10.10.0.3/24 dev "$RVS_TAP_CLIENT"
VIP_SVC="$RVS_VIP:$HTTP_VIP_PORT"
from() { lab_ns client curl -s --connect-timeout 2 --max-time 3 --interface "$1" -H 'Connection: close' "$VIP_URL/" || true; }
drops() { dp_counter "$(lab_rvsadm --dp-stats)" "drop.$1" | awk '{ s += $2 } END { print s + 0 }'; }
page_ok() { [[ "$1" == rs1 || "$1" == rs2 ]]; }

page_ok "$(from 10.10.0.2)" || fail "10.10.0.2 before any ACL"
page_ok "$(from 10.10.0.3)" || fail "10.10.0.3 before any ACL"

lab_rvsadm --add-acl -t "$VIP_SVC" --deny 10.10.0.3/32
denied0=$(drops acl_denied)
[[ -z "$(from 10.10.0.3)" ]] || fail "the denied client got a page"
denied1=$(drops acl_denied)
((denied1 > denied0)) || fail "drop.acl_denied did not move ($denied0 -> $denied1)"
page_ok "$(from 10.10.0.2)" || fail "the other client is refused by a deny entry that is not its own"
assert_eq "$denied1" "$(drops acl_denied)" "drop.acl_denied after the allowed client"
assert_eq "0" "$(drops conn_limit)" "drop.conn_limit"
header=$(lab_rvsadm --get-acl -n | head -n1)
assert_eq "TCP  $VIP_SVC conn-limit 0 acl-denied $((denied1 - denied0)) conn-limited 0" "$header" "--get-acl header"
ok "deny entry: 10.10.0.3 refused and counted ($((denied1 - denied0)) SYNs), 10.10.0.2 served"

# Allow list: only 10.10.0.2/32 (the deny entry goes).
lab_rvsadm --del-acl -t "$VIP_SVC" --deny 10.10.0.3/32
lab_rvsadm --add-acl -t "$VIP_SVC" --allow 10.10.0.2/32
[[ -z "$(from 10.10.0.3)" ]] || fail "a client outside the allow list got a page"
page_ok "$(from 10.10.0.2)" || fail "the allowed client is refused"
assert_text "TCP  $VIP_SVC conn-limit 0 acl-denied $(($(drops acl_denied) - denied0)) conn-limited 0
  allow 10.10.0.2/32" "$(lab_rvsadm --get-acl -n -t "$VIP_SVC")" "--get-acl"
ok "allow list: only 10.10.0.2 served"

# Connection limit 1: an idle connection held open takes the only place.
lab_rvsadm --del-acl -t "$VIP_SVC" --allow 10.10.0.2/32
# The finished connections above still count (TIME_WAIT, inactive): the limit is what is live plus one.
live=$(lab_rvsadm -Ln | awk '$1 == "->" && $2 ~ /:/ { s += $5 + $6 } END { print s + 0 }')
lab_rvsadm --conn-limit $((live + 1)) -t "$VIP_SVC"
(sleep 4 | lab_ns client timeout 6 socat -T 6 - "TCP4:$RVS_VIP:$HTTP_VIP_PORT" >/dev/null 2>&1) &
held=$!
lab_wait 5 "the held connection" bash -c "'$RVSADM' --socket '$RVS_SOCK' -Lnc | grep -q ESTABLISHED"
[[ -z "$(from 10.10.0.2)" ]] || fail "a connection beyond the limit got a page"
(($(drops conn_limit) > 0)) || fail "drop.conn_limit did not move"
lab_rvsadm --conn-limit 0 -t "$VIP_SVC"
page_ok "$(from 10.10.0.2)" || fail "no page once the limit is lifted"
wait "$held" || true
ok "connection limit: the connection beyond it refused and counted, served again once lifted"

# -S / -R round trip.
lab_rvsadm --add-acl -t "$VIP_SVC" --deny 10.10.0.3/32
lab_rvsadm --conn-limit 500 -t "$VIP_SVC"
saved=$(lab_rvsadm -S -n)
grep -qx -- "--add-acl -t $VIP_SVC --deny 10.10.0.3/32" <<<"$saved" || fail "-S lacks the ACL line: $saved"
grep -qx -- "--conn-limit 500 -t $VIP_SVC" <<<"$saved" || fail "-S lacks the limit line: $saved"
lab_rvsadm -C
printf '%s\n' "$saved" | lab_rvsadm -R
assert_text "$saved" "$(lab_rvsadm -S -n)" "-S after -C and -R"
[[ -z "$(from 10.10.0.3)" ]] || fail "the restored deny entry does not apply"
page_ok "$(from 10.10.0.2)" || fail "the allowed client after the restore"
ok "-S saves the entries and the limit, -R restores them and they apply"
