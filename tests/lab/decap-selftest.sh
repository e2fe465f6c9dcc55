#!/usr/bin/env bash
# Self-test of tests/lab/decap.py without rvsd: two namespaces joined by a veth pair; the "sender" sends
# one ICMP echo request to the VIP inside each of IPIP, GRE (plain and with checksum) and GUE; decap.py
# in the "real server" namespace writes the inner packets into its TUN device holding the VIP, and the
# kernel's echo replies must come back to the sender (directly: they are not tunnelled).
# Exit 0 when all four replies arrive. Everything lives in namespaces named with a per-run prefix and
# is removed by the trap; every wait is bounded.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
P="${RVS_PREFIX:-dc$(($$ % 100000))-}"
NS_S="${P}snd"
NS_R="${P}rs"
VIP=10.99.5.100
RUN="$(mktemp -d /tmp/rvs-decap.XXXXXX)"
DECAP_PID=""

cleanup() {
    if [[ -n "$DECAP_PID" ]]; then kill "$DECAP_PID" 2>/dev/null || true; fi
    ip netns del "$NS_S" 2>/dev/null || true
    ip netns del "$NS_R" 2>/dev/null || true
    rm -rf "$RUN"
}
trap cleanup EXIT INT TERM

ip netns add "$NS_S"
ip netns add "$NS_R"
ip link add "${P}a" netns "$NS_S" type veth peer name "${P}b" netns "$NS_R"
ip -n "$NS_S" addr add 10.99.0.1/24 dev "${P}a"
ip -n "$NS_R" addr add 10.99.0.2/24 dev "${P}b"
ip -n "$NS_S" link set "${P}a" up
ip -n "$NS_R" link set "${P}b" up
ip -n "$NS_S" link set lo up
ip -n "$NS_R" link set lo up

ip netns exec "$NS_R" /usr/bin/python3 "$HERE/decap.py" --vip "$VIP" --dev "${P}tun" \
    --gue-port 6080 --count 4 --timeout 20 --stats "$RUN/stats" >"$RUN/decap.log" 2>&1 &
DECAP_PID=$!
for _ in $(seq 1 50); do
    grep -q ready "$RUN/decap.log" 2>/dev/null && break
    sleep 0.1
done
grep -q ready "$RUN/decap.log" || { cat "$RUN/decap.log"; echo "decap.py did not start"; exit 1; }

ip netns exec "$NS_S" timeout 15 /usr/bin/python3 - "$VIP" <<'EOF'
import socket, struct, sys, time

VIP = sys.argv[1]
SRC, RS = "10.99.0.1", "10.99.0.2"

def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

def echo(ident):
    icmp = struct.pack("!BBHHH", 8, 0, 0, ident, 1) + b"rvs-decap"
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), ident, 0x4000, 64, 1, 0,
                      socket.inet_aton(SRC), socket.inet_aton(VIP))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + icmp

rx = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ipip = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
gre = socket.socket(socket.AF_INET, socket.SOCK_RAW, 47)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ipip.sendto(echo(101), (RS, 0))
gre.sendto(struct.pack("!HH", 0, 0x0800) + echo(102), (RS, 0))
inner = echo(103)
g = struct.pack("!HHHH", 0x8000, 0x0800, 0, 0) + inner
g = g[:4] + struct.pack("!H", csum(g)) + g[6:]
gre.sendto(g, (RS, 0))
udp.sendto(bytes([0, 4, 0, 0]) + echo(104), (RS, 6080))

want = {101, 102, 103, 104}
rx.settimeout(0.5)
deadline = time.monotonic() + 10
while want and time.monotonic() < deadline:
    try:
        pkt = rx.recv(2048)
    except socket.timeout:
        continue
    hl = (pkt[0] & 0x0F) * 4
    src = socket.inet_ntoa(pkt[12:16])
    t, _, _, ident, _ = struct.unpack("!BBHHH", pkt[hl:hl + 8])
    if t == 0 and src == VIP:
        want.discard(ident)
if want:
    print("missing echo replies for ids", sorted(want))
    sys.exit(1)
print("all four tunnelled echo requests answered from the VIP")
EOF

wait "$DECAP_PID" || true
DECAP_PID=""
cat "$RUN/decap.log"
grep -q "bad=0 gre=2 gue=1 ipip=1 written=4" "$RUN/stats"
echo "decap self-test: ok"
