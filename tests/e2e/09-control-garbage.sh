#!/usr/bin/env bash
# Garbage on the control socket gets an error reply (or a close) and the daemon keeps serving.
source "$(dirname "$0")/lib.sh"

lab_up 1 nat
http_service rr -m

# Each case: bytes to send; what the reply must contain ("" = the daemon may just close).
timeout 30 python3 - "$RVS_SOCK" <<'PY'
import json, socket, struct, sys

path = sys.argv[1]

def frame(version, payload):
    return struct.pack(">II", 4 + len(payload), version) + payload

cases = [
    ("text junk (oversized length)", b"hello, this is not a frame\n", "BadFrame"),
    ("oversized length field", struct.pack(">II", 0x7FFFFFFF, 1) + b"x" * 16, "BadFrame"),
    ("valid header, junk JSON", frame(1, b"{not json"), "BadFrame"),
    ("valid JSON, unknown request", frame(1, b'{"NoSuchRequest":1}'), "BadFrame"),
    ("wrong version", frame(999, b'"Flush"'), "Version"),
    ("truncated frame", struct.pack(">II", 100, 1) + b"abc", ""),
]
for name, data, want in cases:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    s.connect(path)
    s.sendall(data)
    if not want:
        s.shutdown(socket.SHUT_WR)
    reply = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    if want:
        if len(reply) < 8:
            sys.exit(f"{name}: no reply frame (got {reply!r})")
        length, version = struct.unpack(">II", reply[:8])
        body = reply[8:4 + length].decode("utf-8", "replace")
        if want not in body or "Err" not in body:
            sys.exit(f"{name}: reply {body!r} does not carry Err/{want}")
    print(f"ok: {name}: {reply[8:].decode('utf-8', 'replace')[:80]!r}")
PY
lab_rvsd_alive || fail "rvsd died"
lab_rvsadm -Ln | grep -q '^TCP  10.10.0.100:8990 rr$' || fail "rvsadm -Ln no longer lists the service"
first=$(http_get)
second=$(http_get)
assert_eq "rs1 rs2" "$(printf '%s\n' "$first" "$second" | sort | xargs)" "pages after the garbage"
ok "daemon still serves control and traffic"
