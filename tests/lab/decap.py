#!/usr/bin/python3
"""User-space tunnel decapsulation for lab real servers of rvs tunnel (`-i`) services.

The CI kernel has no ipip, gre or fou modules, so a real server in the namespace lab cannot decapsulate
what rvsd sends it. This program does it in user space, inside the real server's namespace:

  * IPIP (IP protocol 4) and GRE (IP protocol 47) arrive on raw sockets (with their outer IPv4 header);
  * GUE arrives on a UDP socket bound to the tunnel port (`--gue-port`, the service's `--tun-port`);

the outer headers are checked and stripped, and the inner IPv4 packet is written into a TUN device
(`--dev`, layer 3, no packet information) that holds the VIP, so the kernel receives the client's packet
as if it had arrived on that interface and answers from the VIP. The TUN flavour of the tun/tap driver
is used because rvsd's inner packet is an IP packet: a TAP device would need an Ethernet header and
ARP for nothing.

Setup done here (with `ip` and /proc, in the current namespace): create the TUN device, bring it up,
add the VIP as /32, and turn reverse-path filtering off on it and on "all" (the client's packets come in
on the TUN device while the route back to the client goes elsewhere). The kernel, having a raw socket
for protocols 4 and 47, does not answer "protocol unreachable" for them.

Checks per packet (a failing packet is counted and dropped): outer IPv4 header sane and not a fragment;
GRE version 0, protocol 0x0800, checksum right when the C bit is set (K and S fields skipped); GUE
version 0 with proto 4 (IPIP) and C = 0, options skipped by hlen, or GUE version 1 (direct IPv4); the
inner packet is IPv4 with a consistent total length. The inner packet is written unchanged.

Bounded: stops on SIGINT/SIGTERM, after `--count` packets, or after `--timeout` seconds; prints one
line of counters (to stdout, and to `--stats FILE` when given) on exit.

Usage (in the real server's namespace, as root):
  /usr/bin/python3 tests/lab/decap.py --vip 10.10.0.100 [--dev rvsdecap0] [--gue-port 6080]
      [--no-ipip] [--no-gre] [--count N] [--timeout S] [--stats FILE]
"""

import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
PROTO_IPIP = 4
PROTO_GRE = 47
GRE_PROTO_IPV4 = 0x0800


def csum(data):
    """RFC 1071 one's-complement sum folded to 16 bits (0xffff for a block holding a valid checksum)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def inner_ok(pkt):
    """True when pkt is a whole IPv4 packet (version 4, IHL >= 5, total length within the buffer)."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4 or (pkt[0] & 0x0F) < 5:
        return False
    total = struct.unpack("!H", pkt[2:4])[0]
    return (pkt[0] & 0x0F) * 4 <= total <= len(pkt)


def strip_outer_ipv4(pkt):
    """The payload of a raw-socket packet (outer IPv4 header included), or None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4:
        return None
    hl = (pkt[0] & 0x0F) * 4
    total = struct.unpack("!H", pkt[2:4])[0]
    frag = struct.unpack("!H", pkt[6:8])[0]
    if hl < 20 or total < hl or total > len(pkt) or frag & 0x3FFF:
        return None
    return pkt[hl:total]


def decap_gre(payload):
    """The inner packet of a GRE payload, or None."""
    if len(payload) < 4:
        return None
    flags, proto = struct.unpack("!HH", payload[:4])
    if flags & 0x0007 or proto != GRE_PROTO_IPV4:  # version must be 0
        return None
    off = 4
    if flags & 0x8000:  # C: checksum + reserved1
        if csum(payload) != 0xFFFF:
            return None
        off += 4
    if flags & 0x2000:  # K: key
        off += 4
    if flags & 0x1000:  # S: sequence number
        off += 4
    return payload[off:] if len(payload) >= off else None


def decap_gue(payload):
    """The inner packet of a GUE payload (variant 0 with proto IPIP, or variant 1 IPv4), or None."""
    if not payload:
        return None
    version = payload[0] >> 6
    if version == 1:  # direct IP encapsulation: the payload is the IPv4 packet itself
        return payload if payload[0] >> 4 == 4 else None
    if version != 0 or len(payload) < 4:
        return None
    control = (payload[0] >> 5) & 1
    hlen = payload[0] & 0x1F
    if control or payload[1] != PROTO_IPIP:
        return None
    off = 4 + 4 * hlen
    return payload[off:] if len(payload) >= off else None


def run(cmd):
    subprocess.run(cmd, check=True)


def setup_tun(name, vip):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    run(["ip", "link", "set", "dev", name, "up"])
    run(["ip", "addr", "replace", vip + "/32", "dev", name])
    for conf in ("all", name):
        with open("/proc/sys/net/ipv4/conf/%s/rp_filter" % conf, "w") as f:
            f.write("0\n")
    return fd


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vip", required=True, help="the virtual address to hold on the TUN device")
    ap.add_argument("--dev", default="rvsdecap0", help="TUN device name (created)")
    ap.add_argument("--gue-port", type=int, default=0, help="GUE UDP port (0: no GUE)")
    ap.add_argument("--no-ipip", action="store_true", help="do not open the IPIP raw socket")
    ap.add_argument("--no-gre", action="store_true", help="do not open the GRE raw socket")
    ap.add_argument("--count", type=int, default=0, help="stop after N packets written (0: no limit)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="stop after S seconds")
    ap.add_argument("--stats", help="also write the final counters line to this file")
    args = ap.parse_args()

    tun = setup_tun(args.dev, args.vip)
    socks = {}
    if not args.no_ipip:
        socks["ipip"] = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTO_IPIP)
    if not args.no_gre:
        socks["gre"] = socket.socket(socket.AF_INET, socket.SOCK_RAW, PROTO_GRE)
    if args.gue_port:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", args.gue_port))
        socks["gue"] = s
    by_fd = {s.fileno(): (kind, s) for kind, s in socks.items()}
    stats = {k: 0 for k in ("ipip", "gre", "gue", "bad", "written")}

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    deadline = time.monotonic() + args.timeout
    print("decap: ready on %s (%s)" % (args.dev, ",".join(sorted(socks))), flush=True)
    while not stop and time.monotonic() < deadline:
        if args.count and stats["written"] >= args.count:
            break
        try:
            ready, _, _ = select.select(list(by_fd), [], [], 0.5)
        except InterruptedError:
            continue
        for fd in ready:
            kind, s = by_fd[fd]
            data = s.recv(65535)
            if kind == "gue":
                inner = decap_gue(data)
            else:
                payload = strip_outer_ipv4(data)
                if payload is None:
                    inner = None
                elif kind == "ipip":
                    inner = payload
                else:
                    inner = decap_gre(payload)
            if inner is None or not inner_ok(inner):
                stats["bad"] += 1
                continue
            total = struct.unpack("!H", inner[2:4])[0]
            stats[kind] += 1
            try:
                os.write(tun, inner[:total])
                stats["written"] += 1
            except OSError:
                stats["bad"] += 1
    line = " ".join("%s=%d" % kv for kv in sorted(stats.items()))
    print("decap: " + line, flush=True)
    if args.stats:
        with open(args.stats, "w") as f:
            f.write(line + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
