#!/usr/bin/python3
"""A bounded SYN flood with random sources (like `hping3 -S --rand-source -c N`), for tests/e2e/33-synproxy.sh.

Usage: synflood.py DST_IP DST_PORT COUNT RATE_PPS
Sends COUNT TCP SYNs to DST_IP:DST_PORT from random unicast sources outside 10.0.0.0/8 (so the lab's hosts are
never spoofed and no answer can reach anyone), random source ports and ISNs, at about RATE_PPS, through a raw IP
socket (the kernel routes them; IP_HDRINCL keeps the forged source). The packets are built by scapy. Prints the
number sent. Bounded in count and in time (at most COUNT / RATE_PPS * 2 + 10 seconds).
"""
import random
import socket
import sys
import time

from scapy.all import IP, TCP, raw  # noqa: E402


def random_source(rng):
    while True:
        a = rng.randrange(11, 224)
        if a not in (127, 100, 169, 172, 192, 198):
            return "%d.%d.%d.%d" % (a, rng.randrange(256), rng.randrange(256), rng.randrange(1, 255))


def main():
    dst, dport, count, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(0x5F3759DF)
    # Build a pool of distinct packets first (scapy is slow), then send them round robin.
    pool = [
        raw(IP(src=random_source(rng), dst=dst, ttl=64) /
            TCP(sport=rng.randrange(1024, 65535), dport=dport, flags="S", seq=rng.randrange(2**32),
                window=64240))
        for _ in range(min(count, 1024))
    ]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    deadline = time.monotonic() + count / rate * 2 + 10
    start = time.monotonic()
    sent = 0
    batch = 50
    while sent < count and time.monotonic() < deadline:
        for _ in range(min(batch, count - sent)):
            p = bytearray(pool[sent % len(pool)])
            # A fresh source port and ISN for every round through the pool: every SYN is a new flow.
            rnd = sent // len(pool)
            if rnd:
                p[20:22] = ((int.from_bytes(p[20:22], "big") + rnd * 7919) % 64511 + 1024).to_bytes(2, "big")
                # TCP checksum: recompute over the pseudo-header.
                p[36:38] = b"\0\0"
                pseudo = bytes(p[12:20]) + b"\0\x06" + (len(p) - 20).to_bytes(2, "big")
                data = pseudo + bytes(p[20:])
                total = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
                while total >> 16:
                    total = (total & 0xFFFF) + (total >> 16)
                p[36:38] = (~total & 0xFFFF).to_bytes(2, "big")
            try:
                s.sendto(bytes(p), (dst, 0))
                sent += 1
            except OSError:
                time.sleep(0.001)
        ahead = sent / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
    print(sent)


if __name__ == "__main__":
    main()
