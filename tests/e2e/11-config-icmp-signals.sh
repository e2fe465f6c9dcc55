#!/usr/bin/env bash
# rvsd's edges: config errors name the key and the line and exit non-zero before touching DPDK; a bad start-up rule
# names its line; ICMP echo is answered for a port address and for a VIP; start-up rules from the config are
# live; SIGTERM stops rvsd cleanly (exit 0, socket removed).
source "$(dirname "$0")/lib.sh"
lab_init
mkdir -p "$RVS_RUN_DIR"

bad="$RVS_RUN_DIR/bad.toml"

# rvsd must refuse $bad: sets $out to what it printed, fails the test if it exited 0.
refuse() { # refuse WHAT
    local rc=0
    out=$("$RVSD" --config "$bad" 2>&1) || rc=$?
    [[ $rc -ne 0 ]] || fail "rvsd accepted $1"
}
cat >"$bad" <<'TOML'
[eal]
args = ["--no-huge"]

[dataplane]
workers = [1]

[[port]]
name = "client"
device = "net_tap0,iface=x"
address = ["10.10.0.300/24"]
TOML
refuse "a bad address"
grep -q "bad.toml:10:.*port\[0\]\.address\[0\]" <<<"$out" || fail "config error does not name key and line: [$out]"
ok "bad config refused with key and line: $(head -1 <<<"$out")"

cat >"$bad" <<'TOML'
[eal]
args = ["--no-huge"]

[dataplane]
workers = [1]
bogus = 1
TOML
refuse "an unknown key"
grep -q "bad.toml:6:.*bogus" <<<"$out" || fail "unknown key not reported with its line: [$out]"
ok "unknown key refused: $(head -1 <<<"$out")"

cat >"$bad" <<'TOML'
[eal]
args = ["--no-huge"]

[dataplane]
workers = [1]

[[port]]
name = "client"
device = "net_tap0,iface=x"
address = ["10.10.0.1/24"]

[services]
rules = [
  "-A -t 10.10.0.100:8990 -s rr",
  "-a -t 10.10.0.100:8990 -r 10.10.1.2:8998 -m -w -1",
]
TOML
refuse "a bad start-up rule"
grep -q "illegal weight specified" <<<"$out" || fail "bad rule message: [$out]"
grep -q "bad.toml:15" <<<"$out" || fail "bad rule line not named: [$out]"
ok "bad start-up rule refused: $(head -1 <<<"$out")"

# A running lab: ICMP echo to rvsd's port address and to a VIP.
lab_up 1 nat
http_service rr -m
lab_ns client ping -c 2 -W 2 -q 10.10.0.1 >/dev/null || fail "no echo reply from rvsd's port address"
ok "ping 10.10.0.1 (port address)"
lab_ns client ping -c 2 -W 2 -q "$RVS_VIP" >/dev/null || fail "no echo reply from the VIP"
ok "ping $RVS_VIP (VIP)"
lab_ns client ping -c 1 -W 1 -q 10.10.0.222 >/dev/null 2>&1 && fail "an address nobody owns answered ping"
ok "no answer for an address rvsd does not own"

# SIGTERM: clean shutdown.
pid=$(cat "$RVS_RUN_DIR/rvsd.pid")
kill -TERM "$pid"
for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "rvsd still running 10 s after SIGTERM"
[[ ! -e "$RVS_SOCK" ]] || fail "control socket left behind after SIGTERM"
grep -q "rvsd stopped" "$RVS_RUN_DIR/rvsd.log" || fail "rvsd did not log a clean stop"
ok "SIGTERM: rvsd stopped cleanly and removed its socket"
