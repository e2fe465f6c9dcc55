#!/usr/bin/python3
"""Large UDP datagrams for tests/e2e/16-fragments.sh (run with /usr/bin/python3 inside a lab namespace).

serve: a UDP echo server; every datagram is logged as "<length> <sha256> <source address>" and sent back
whole to its sender. It stops after --lifetime seconds (the lab also kills it).

send: for each size, --count datagrams of random bytes, each from a new socket (a new source port: a new
flow), to HOST:PORT; each must come back whole (same bytes) from HOST:PORT within 3 s. Prints one
"sent <length> <sha256>" line per datagram, then "ok <n>" or "FAIL ..." lines; exits 1 when any failed.
The kernel fragments datagrams longer than the path MTU on both sides (DF is only set on datagrams that fit).
"""

import argparse
import hashlib
import os
import socket
import sys
import time


def serve(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a.bind, a.port))
    s.settimeout(0.5)
    end = time.monotonic() + a.lifetime
    with open(a.log, "a", buffering=1) as log:
        while time.monotonic() < end:
            try:
                data, peer = s.recvfrom(65535)
            except socket.timeout:
                continue
            log.write(f"{len(data)} {hashlib.sha256(data).hexdigest()} {peer[0]}\n")
            s.sendto(data, peer)
    return 0


def send(a):
    failed = 0
    done = 0
    for size in a.sizes:
        for _ in range(a.count):
            data = os.urandom(size)
            digest = hashlib.sha256(data).hexdigest()
            print(f"sent {size} {digest}", flush=True)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(3.0)
            try:
                s.sendto(data, (a.host, a.port))
                reply, peer = s.recvfrom(65535)
            except OSError as e:
                print(f"FAIL {size}: {e}", flush=True)
                failed += 1
                continue
            finally:
                s.close()
            if reply != data or peer != (a.host, a.port):
                print(f"FAIL {size}: reply of {len(reply)} bytes from {peer}, sha256 "
                      f"{hashlib.sha256(reply).hexdigest()}", flush=True)
                failed += 1
                continue
            done += 1
    print(f"ok {done}" if not failed else f"FAIL {failed} of {done + failed}", flush=True)
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--bind", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--lifetime", type=float, default=300)
    p = sub.add_parser("send")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, default=2)
    p.add_argument("sizes", type=int, nargs="+")
    a = ap.parse_args()
    return serve(a) if a.cmd == "serve" else send(a)


if __name__ == "__main__":
    sys.exit(main())
