#!/usr/bin/env bash
# ipvsadm 1.31 compatibility against a running rvsd, byte for byte: the reference's error transcript (messages on
# stderr and exit codes), its example state (the parts rvs supports: TCP/UDP IPv4 services; fwmark, SCTP and
# IPv6 are refused) listed with -Ln, -L (names), one service, --stats --exact, --thresholds, -S -n; -E/-e
# replacing whole entries; --set and --timeout; and `-S -n | -R` on an empty daemon rebuilding an identical -Ln.
source "$(dirname "$0")/lib.sh"

# run_expect EXIT STDERR ARGS...: rvsadm ARGS must exit EXIT and print exactly STDERR on stderr.
run_expect() {
    local want_rc=$1 want_err=$2 rc=0 err
    shift 2
    err=$(lab_rvsadm "$@" 2>&1 >/dev/null) || rc=$?
    assert_eq "$want_rc" "$rc" "exit status of rvsadm $*"
    assert_eq "$want_err" "$err" "stderr of rvsadm $*"
}

lab_up 1 nat
lab_rvsadm -C

# Reference section 3.1 transcript, on a fresh table.
run_expect 255 "Scheduler or persistence engine not found" -A -t 10.0.0.1:80 -s foo
run_expect 0 "" -A -t 10.0.0.1:80 -s rr
run_expect 255 "Service already exists" -A -t 10.0.0.1:80 -s wlc
run_expect 255 "No such service" -E -t 10.0.0.2:80 -s rr
run_expect 255 "No such service" -D -t 10.0.0.2:80
run_expect 255 "No such service" -Z -t 10.0.0.2:80
run_expect 1 "No such service" -Ln -t 10.0.0.2:80
run_expect 255 "Service not defined" -a -t 10.0.0.2:80 -r 192.168.1.2
run_expect 0 "" -a -t 10.0.0.1:80 -r 192.168.1.2 -m
run_expect 255 "Destination already exists" -a -t 10.0.0.1:80 -r 192.168.1.2 -m
run_expect 255 "Numerical result out of range" -a -t 10.0.0.1:80 -r 192.168.1.3 -m -y 10
run_expect 255 "No such destination" -e -t 10.0.0.1:80 -r 192.168.1.9 -w 5
run_expect 255 "No such destination" -d -t 10.0.0.1:80 -r 192.168.1.9
run_expect 255 "Service not defined" -d -t 10.0.0.2:80 -r 192.168.1.9
run_expect 255 "No such destination" -d -t 10.0.0.1:80 -r 192.168.1.2:8080
# A few parse errors (exit 2) and what rvs refuses on purpose.
run_expect 2 "Zero port specified for non-persistent service" -A -t 10.0.0.1
run_expect 2 "illegal weight specified" -a -t 10.0.0.1:80 -r 192.168.1.4 -w -1
run_expect 2 "multiple 'forwarding-method' options specified" -a -t 10.0.0.1:80 -r 192.168.1.4 -m -g
run_expect 2 "One-Packet Scheduling is only for UDP virtual services" -A -t 10.0.0.1:81 -o
ok "error transcript: messages and exit codes"

# -E and -e replace the whole entry with defaults.
lab_rvsadm -E -t 10.0.0.1:80
lab_rvsadm -e -t 10.0.0.1:80 -r 192.168.1.2 -w 0
expected="$(ln_header)
TCP  10.0.0.1:80 wlc
$(ln_dest 192.168.1.2:80 Route 0 0 0)"
assert_text "$expected" "$(lab_rvsadm -Ln)" "-Ln after -E and -e"
ok "-E/-e replace whole entries (wlc, Route 0)"

# The reference's example state (section 2.2), supported part.
lab_rvsadm -C
lab_rvsadm -A -t 10.0.0.1:80 -s rr
lab_rvsadm -a -t 10.0.0.1:80 -r 192.168.1.2:80 -m
lab_rvsadm -a -t 10.0.0.1:80 -r 192.168.1.3:8080 -m -w 3
lab_rvsadm -a -t 10.0.0.1:80 -r 192.168.1.10 -g -w 0
lab_rvsadm -A -t 10.0.0.1:443 -p
lab_rvsadm -a -t 10.0.0.1:443 -r 192.168.1.2 -g
lab_rvsadm -A -u 10.0.0.53:53 -s wrr -o
lab_rvsadm -a -u 10.0.0.53:53 -r 192.168.1.2:53 -m -w 2 -x 1000 -y 100
rc=0
err=$(lab_rvsadm -A -f 100 -s sh 2>&1 >/dev/null) || rc=$?
assert_eq 2 "$rc" "exit status of -A -f (firewall marks are refused)"
[[ "$err" == "firewall-mark services (-f, -6) are not supported by rvs"* ]] || fail "-f refusal message: [$err]"

ln_expected="$(ln_header)
TCP  10.0.0.1:80 rr
$(ln_dest 192.168.1.2:80 Masq 1 0 0)
$(ln_dest 192.168.1.3:8080 Masq 3 0 0)
$(ln_dest 192.168.1.10:80 Route 0 0 0)
TCP  10.0.0.1:443 wlc persistent 360
$(ln_dest 192.168.1.2:443 Route 1 0 0)
UDP  10.0.0.53:53 wrr ops
$(ln_dest 192.168.1.2:53 Masq 2 0 0)"
assert_text "$ln_expected" "$(lab_rvsadm -Ln)" "-Ln of the example state"
ok "-Ln"

assert_text "$(ln_header)
TCP  10.0.0.1:http rr
$(ln_dest 192.168.1.2:http Masq 1 0 0)
$(ln_dest 192.168.1.3:http-alt Masq 3 0 0)
$(ln_dest 192.168.1.10:http Route 0 0 0)
TCP  10.0.0.1:https wlc persistent 360
$(ln_dest 192.168.1.2:https Route 1 0 0)
UDP  10.0.0.53:domain wrr ops
$(ln_dest 192.168.1.2:domain Masq 2 0 0)" "$(lab_rvsadm -L)" "-L (names from /etc/services)"
ok "-L with service names"

assert_text "Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 rr
$(ln_dest 192.168.1.2:80 Masq 1 0 0)
$(ln_dest 192.168.1.3:8080 Masq 3 0 0)
$(ln_dest 192.168.1.10:80 Route 0 0 0)" "$(lab_rvsadm -Ln -t 10.0.0.1:80)" "-Ln -t (one service)"
ok "-Ln -t one service"

stats_line() { printf '%-33s %8s %8s %8s %8s %8s\n' "$@"; }
dest_stats() { printf '  -> %-28s %8s %8s %8s %8s %8s\n' "$@"; }
assert_text "IP Virtual Server version 1.2.1 (size=4096)
$(stats_line "Prot LocalAddress:Port" Conns InPkts OutPkts InBytes OutBytes)
  -> RemoteAddress:Port
$(stats_line "TCP  10.0.0.1:80" 0 0 0 0 0)
$(dest_stats 192.168.1.2:80 0 0 0 0 0)
$(dest_stats 192.168.1.3:8080 0 0 0 0 0)
$(dest_stats 192.168.1.10:80 0 0 0 0 0)
$(stats_line "TCP  10.0.0.1:443" 0 0 0 0 0)
$(dest_stats 192.168.1.2:443 0 0 0 0 0)
$(stats_line "UDP  10.0.0.53:53" 0 0 0 0 0)
$(dest_stats 192.168.1.2:53 0 0 0 0 0)" "$(lab_rvsadm -Ln --stats --exact)" "-Ln --stats --exact"
ok "-Ln --stats --exact"

thr_line() { printf '  -> %-28s %-10u %-10u %-10u %-10u\n' "$@"; }
assert_text "IP Virtual Server version 1.2.1 (size=4096)
$(printf '%-33s %-10s %-10s %-10s %-10s' "Prot LocalAddress:Port" Uthreshold Lthreshold ActiveConn InActConn)
  -> RemoteAddress:Port
TCP  10.0.0.1:80 rr
$(thr_line 192.168.1.2:80 0 0 0 0)
$(thr_line 192.168.1.3:8080 0 0 0 0)
$(thr_line 192.168.1.10:80 0 0 0 0)
TCP  10.0.0.1:443 wlc persistent 360
$(thr_line 192.168.1.2:443 0 0 0 0)
UDP  10.0.0.53:53 wrr ops
$(thr_line 192.168.1.2:53 1000 100 0 0)" "$(lab_rvsadm -Ln --thresholds)" "-Ln --thresholds"
ok "-Ln --thresholds"

save_expected="-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 192.168.1.2:80 -m -w 1
-a -t 10.0.0.1:80 -r 192.168.1.3:8080 -m -w 3
-a -t 10.0.0.1:80 -r 192.168.1.10:80 -g -w 0
-A -t 10.0.0.1:443 -s wlc -p 360
-a -t 10.0.0.1:443 -r 192.168.1.2:443 -g -w 1
-A -u 10.0.0.53:53 -s wrr -o
-a -u 10.0.0.53:53 -r 192.168.1.2:53 -m -w 2"
saved=$(lab_rvsadm -S -n)
assert_text "$save_expected" "$saved" "-S -n"
ok "-S -n"

assert_eq "Timeout (tcp tcpfin udp): 900 120 300" "$(lab_rvsadm -L --timeout)" "-L --timeout"
lab_rvsadm --set 1000 0 0
assert_eq "Timeout (tcp tcpfin udp): 1000 120 300" "$(lab_rvsadm -L --timeout)" "--set 1000 0 0 keeps tcpfin and udp"
ok "--set and --timeout"

# Save, flush, restore: identical listing.
lab_rvsadm -C
assert_text "$(ln_header)" "$(lab_rvsadm -Ln)" "-Ln after -C"
printf '%s\n' "# saved rules" "" "$saved" | lab_rvsadm -R
assert_text "$ln_expected" "$(lab_rvsadm -Ln)" "-Ln after -S -n | -R"
ok "-S -n | -R rebuilds an identical -Ln"
