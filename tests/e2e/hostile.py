#!/usr/bin/python3
"""Hostile frames against rvsd, for tests/e2e/30-hostile.sh (run with /usr/bin/python3, which has scapy,
inside the client namespace).

Each kind is a list of frames sent on the client tap (N times). After sending, the `drop.<reason>` counters
of `rvsadm --dp-stats` (summed over lcores) must have moved by exactly the number of frames under the
expected reason and not at all under any other reason (`None`: the frames are accepted, no drop counter
may move; a dict: exactly these deltas, e.g. fragments held and then timed out). Every wait is bounded. Prints one `ok <kind>` or `FAIL <kind>: ...` line per kind and exits 1
when any failed.

Frames that reach a real server are recognised by the e2e script in the real servers' captures: every
TCP/UDP frame here uses source ports 5000-5999 (5999 only for the valid control SYN, which must arrive).
"""

import argparse
import subprocess
import sys
import time

from scapy.all import (  # noqa: E402  (scapy is slow to import; keep it in one place)
    ARP,
    ICMP,
    IP,
    IPOption_LSRR,
    IPOption_RR,
    IPv6,
    TCP,
    UDP,
    Dot1Q,
    Ether,
    Raw,
    get_if_hwaddr,
    sendp,
)

VIP = "10.10.0.100"
PORT_ADDR = "10.10.0.1"
CLIENT = "10.10.0.2"
RS1 = "10.10.1.2"
RS2 = "10.10.2.2"
SVC = 8990
UDP_SVC = 9000
ATTACKER_MAC = "02:00:00:00:66:66"
N = 3  # frames per kind (fragment pairs: 2 per set)


def dp_drops(rvsadm, sock):
    """drop.* counters summed over lcores."""
    out = subprocess.run(
        [rvsadm, "--socket", sock, "--dp-stats"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    drops = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) == 4 and f[0] == "lcore" and f[2].startswith("drop."):
            drops[f[2]] = drops.get(f[2], 0) + int(f[3])
    return drops


def kinds(me, rvsd):
    """(name, frames, expected counter or None). `me`/`rvsd`: the client tap's and rvsd's MACs."""
    e = Ether(src=me, dst=rvsd)
    syn = TCP(sport=5000, dport=SVC, flags="S", seq=1000)

    def tcp(flags, sport):
        return e / IP(src=CLIENT, dst=VIP) / TCP(sport=sport, dport=SVC, flags=flags, seq=7)

    def martian(src, sport):
        return e / IP(src=src, dst=VIP) / TCP(sport=sport, dport=SVC, flags="S")

    good_ip = bytes(IP(src=CLIENT, dst=VIP) / TCP(sport=5001, dport=SVC, flags="S"))
    bad_tcp = e / IP(src=CLIENT, dst=VIP) / TCP(sport=5002, dport=SVC, flags="S", chksum=0x1234)
    frag_payload = bytes(TCP(sport=5003, dport=SVC, flags="S")) + b"A" * 32
    # Two later fragments of one datagram overlapping by 8 bytes (the first is held, waiting for its
    # first fragment, when the second comes): the whole datagram is dropped.
    overlap = [
        e / IP(src=CLIENT, dst=VIP, id=77, flags="MF", frag=3, proto=6) / Raw(b"B" * 16),
        e / IP(src=CLIENT, dst=VIP, id=77, flags="MF", frag=4, proto=6) / Raw(b"C" * 16),
    ]
    echo = bytes(ICMP(id=7, seq=1) / Raw(b"e" * 40))
    quoted = IP(src=VIP, dst=CLIENT) / TCP(sport=SVC, dport=5004, flags="SA")
    arp = Ether(src=me, dst="ff:ff:ff:ff:ff:ff")
    arp_u = Ether(src=ATTACKER_MAC, dst=rvsd)

    return [
        # --- Ethernet
        ("unknown ethertype", [Ether(src=me, dst=rvsd, type=0x88B5) / Raw(b"x" * 46)], "drop.eth_unsupported"),
        ("VLAN-tagged SYN to the VIP", [e / Dot1Q(vlan=10) / IP(src=CLIENT, dst=VIP) / syn], "drop.eth_unsupported"),
        ("IPv6 frame", [e / IPv6(src="fe80::1", dst="fe80::2") / Raw(b"x" * 8)], "drop.eth_unsupported"),
        ("unicast to another MAC", [Ether(src=me, dst="02:99:99:99:99:99") / IP(src=CLIENT, dst=VIP) / syn], "drop.not_for_us"),
        ("broadcast MAC, unicast IP", [Ether(src=me, dst="ff:ff:ff:ff:ff:ff") / IP(src=CLIENT, dst=VIP) / syn], "drop.ipv4_not_unicast"),
        ("broadcast IP and MAC echo", [Ether(src=me, dst="ff:ff:ff:ff:ff:ff") / IP(src=CLIENT, dst="255.255.255.255") / ICMP()], "drop.ipv4_not_unicast"),
        ("multicast source MAC", [Ether(src="01:00:5e:00:00:01", dst=rvsd) / IP(src=CLIENT, dst=VIP) / syn], "drop.eth_bad_source"),
        # --- IPv4 header
        ("IPv4 header cut at 10 bytes", [Ether(src=me, dst=rvsd, type=0x0800) / Raw(good_ip[:10])], "drop.ipv4_malformed"),
        ("IHL 4", [e / IP(src=CLIENT, dst=VIP, ihl=4) / syn], "drop.ipv4_malformed"),
        ("total length beyond the frame", [e / IP(src=CLIENT, dst=VIP, len=1000) / syn], "drop.ipv4_malformed"),
        ("total length below the header", [e / IP(src=CLIENT, dst=VIP, len=12) / syn], "drop.ipv4_malformed"),
        ("version 6 in an IPv4 frame", [e / IP(src=CLIENT, dst=VIP, version=6) / syn], "drop.ipv4_malformed"),
        ("bad IPv4 checksum", [e / IP(src=CLIENT, dst=VIP, chksum=0xBEEF) / syn], "drop.ipv4_bad_checksum"),
        ("IP option record-route", [e / IP(src=CLIENT, dst=VIP, options=[IPOption_RR()]) / syn], "drop.ipv4_options"),
        ("IP option loose source route", [e / IP(src=CLIENT, dst=VIP, options=[IPOption_LSRR(routers=[RS1])]) / syn], "drop.ipv4_options"),
        # --- fragments (policy: dataplane/src/frag.rs): a fragmented SYN opens nothing and its datagram's
        # later fragments share its fate; a fragment repeated exactly is dropped alone; later fragments wait
        # 2 s for their first one; overlaps, RFC 1858 tiny and offset-8 TCP fragments, too many fragments drop
        # the whole datagram; fragments to nothing we serve, or to rvsd's own address, are dropped.
        ("fragmented SYN (first fragment)", [e / IP(src=CLIENT, dst=VIP, id=70, flags="MF", frag=0, proto=6) / Raw(frag_payload[:24])], "drop.no_session"),
        ("lone last fragment (held, repeats dropped, then timed out)", [e / IP(src=CLIENT, dst=VIP, id=71, frag=3, proto=6) / Raw(frag_payload[24:])],
         {"drop.frag_duplicate": N - 1, "drop.frag_timeout": 1}),
        ("overlapping fragments", overlap, "drop.frag_overlap"),
        ("tiny overlapping TCP-header fragment", [e / IP(src=CLIENT, dst=VIP, id=72, flags="MF", frag=0, proto=6) / Raw(frag_payload[:8]),
                                                  e / IP(src=CLIENT, dst=VIP, id=72, frag=1, proto=6) / Raw(bytes(TCP(sport=5003, dport=22, flags="S"))[8:])], "drop.frag_tiny"),
        ("TCP fragment at offset 8 bytes", [e / IP(src=CLIENT, dst=VIP, id=73, flags="MF", frag=1, proto=6) / Raw(b"D" * 16)], "drop.frag_offset_one"),
        ("65 fragments of one datagram", [e / IP(src=CLIENT, dst=VIP, id=74, flags="MF", frag=i, proto=17) / Raw(b"E" * 8) for i in range(1, 66)],
         "drop.frag_too_many"),
        ("fragment to an address we do not serve", [e / IP(src=CLIENT, dst="10.20.30.40", id=75, flags="MF", frag=2, proto=17) / Raw(b"F" * 16)],
         "drop.not_for_us"),
        ("fragmented echo request to rvsd's address", [e / IP(src=CLIENT, dst=PORT_ADDR, id=76, flags="MF", frag=0, proto=1) / Raw(echo[:24])],
         "drop.ipv4_fragment"),
        # --- martian sources
        ("zero source", [martian("0.0.0.0", 5010)], "drop.ipv4_bad_source"),
        ("broadcast source", [martian("255.255.255.255", 5011)], "drop.ipv4_bad_source"),
        ("subnet broadcast source", [martian("10.10.0.255", 5012)], "drop.ipv4_bad_source"),
        ("multicast source", [martian("224.0.0.1", 5013)], "drop.ipv4_bad_source"),
        ("loopback source", [martian("127.0.0.1", 5014)], "drop.ipv4_bad_source"),
        ("land: source = VIP", [martian(VIP, SVC)], "drop.ipv4_bad_source"),
        ("source = rvsd's port address", [martian(PORT_ADDR, 5015)], "drop.ipv4_bad_source"),
        ("echo request from a broadcast source", [e / IP(src="255.255.255.255", dst=PORT_ADDR) / ICMP()], "drop.ipv4_bad_source"),
        # --- TTL
        ("TTL 0 SYN to the VIP", [e / IP(src=CLIENT, dst=VIP, ttl=0) / TCP(sport=5020, dport=SVC, flags="S")], "drop.ipv4_ttl_expired"),
        ("TTL 1 SYN to the VIP", [e / IP(src=CLIENT, dst=VIP, ttl=1) / TCP(sport=5021, dport=SVC, flags="S")], "drop.ipv4_ttl_expired"),
        # --- TCP
        ("TCP header cut at 8 bytes", [e / IP(src=CLIENT, dst=VIP, proto=6) / Raw(bytes(TCP(sport=5030, dport=SVC))[:8])], "drop.tcp_malformed"),
        ("TCP data offset 4", [e / IP(src=CLIENT, dst=VIP) / TCP(sport=5031, dport=SVC, flags="S", dataofs=4)], "drop.tcp_malformed"),
        ("TCP data offset beyond the segment", [e / IP(src=CLIENT, dst=VIP) / TCP(sport=5032, dport=SVC, flags="S", dataofs=15)], "drop.tcp_malformed"),
        ("SYN+FIN", [tcp("SF", 5033)], "drop.tcp_bad_flags"),
        ("SYN+RST", [tcp("SR", 5034)], "drop.tcp_bad_flags"),
        ("null flags", [tcp("", 5035)], "drop.tcp_bad_flags"),
        ("Christmas tree (FIN PSH URG)", [tcp("FPU", 5036)], "drop.tcp_bad_flags"),
        ("FIN without ACK", [tcp("F", 5037)], "drop.tcp_bad_flags"),
        ("bad TCP checksum on a SYN", [bad_tcp], "drop.tcp_bad_checksum"),
        ("ACK without a session", [tcp("A", 5038)], "drop.no_session"),
        ("SYN+ACK without a session", [tcp("SA", 5039)], "drop.no_session"),
        ("SYN to a VIP port without a service", [e / IP(src=CLIENT, dst=VIP) / TCP(sport=5040, dport=22, flags="S")], "drop.not_for_us"),
        ("SYN to rvsd's port address", [e / IP(src=CLIENT, dst=PORT_ADDR) / TCP(sport=5041, dport=22, flags="S")], "drop.not_for_us"),
        # --- UDP
        ("bad UDP checksum to the UDP service", [e / IP(src=CLIENT, dst=VIP) / UDP(sport=5050, dport=UDP_SVC, chksum=0x1234) / Raw(b"q")], "drop.udp_bad_checksum"),
        ("UDP length beyond the datagram", [e / IP(src=CLIENT, dst=VIP) / UDP(sport=5051, dport=UDP_SVC, len=200) / Raw(b"q")], "drop.udp_malformed"),
        ("UDP length below 8", [e / IP(src=CLIENT, dst=VIP) / UDP(sport=5052, dport=UDP_SVC, len=4) / Raw(b"q")], "drop.udp_malformed"),
        ("UDP to rvsd's port address", [e / IP(src=CLIENT, dst=PORT_ADDR) / UDP(sport=5053, dport=53) / Raw(b"q")], "drop.not_for_us"),
        # --- ICMP
        ("echo request with a bad ICMP checksum", [e / IP(src=CLIENT, dst=PORT_ADDR) / ICMP(chksum=0x1234)], "drop.icmp_malformed"),
        ("ICMP cut at 2 bytes", [e / IP(src=CLIENT, dst=PORT_ADDR, proto=1) / Raw(b"\x08\x00")], "drop.icmp_malformed"),
        ("ICMP timestamp request", [e / IP(src=CLIENT, dst=PORT_ADDR) / ICMP(type=13)], "drop.not_for_us"),
        ("ICMP unreachable quoting garbage", [e / IP(src=CLIENT, dst=VIP) / ICMP(type=3, code=3) / Raw(b"\xde\xad" * 10)], "drop.not_for_us"),
        ("ICMP unreachable quoting a flow without session", [e / IP(src=CLIENT, dst=VIP) / ICMP(type=3, code=3) / Raw(bytes(quoted)[:28])], "drop.icmp_no_session"),
        ("ICMP unreachable with a bad checksum", [e / IP(src=CLIENT, dst=VIP) / ICMP(type=3, code=3, chksum=0x1234) / Raw(bytes(quoted)[:28])], "drop.icmp_malformed"),
        # --- ARP
        ("ARP cut at 20 bytes", [Ether(src=me, dst="ff:ff:ff:ff:ff:ff", type=0x0806) / Raw(bytes(ARP(psrc=CLIENT, pdst=PORT_ADDR))[:20])], "drop.arp_malformed"),
        ("ARP opcode 3", [arp / ARP(op=3, hwsrc=me, psrc=CLIENT, pdst=PORT_ADDR)], "drop.arp_malformed"),
        ("ARP hardware length 8", [arp / ARP(hwlen=8, hwsrc=me + ":00:00", psrc=CLIENT, pdst=PORT_ADDR)], "drop.arp_malformed"),
        ("ARP reply claiming the VIP", [arp_u / ARP(op=2, hwsrc=ATTACKER_MAC, psrc=VIP, hwdst=rvsd, pdst=PORT_ADDR)], "drop.arp_address_conflict"),
        ("gratuitous ARP claiming rvsd's address", [Ether(src=ATTACKER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=ATTACKER_MAC, psrc=PORT_ADDR, pdst=PORT_ADDR)], "drop.arp_address_conflict"),
        ("gratuitous ARP for a real server's address", [Ether(src=ATTACKER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=ATTACKER_MAC, psrc=RS1, pdst=RS1)], "drop.arp_wrong_subnet"),
        ("ARP reply for a real server's address", [arp_u / ARP(op=2, hwsrc=ATTACKER_MAC, psrc=RS2, hwdst=rvsd, pdst=PORT_ADDR)], "drop.arp_wrong_subnet"),
        ("ARP from a broadcast sender MAC", [arp / ARP(op=1, hwsrc="ff:ff:ff:ff:ff:ff", psrc=CLIENT, pdst=PORT_ADDR)], "drop.arp_bad_sender"),
        ("ARP from a multicast sender address", [arp / ARP(op=1, hwsrc=me, psrc="224.0.0.9", pdst=PORT_ADDR)], "drop.arp_bad_sender"),
        # --- oversized (main() raises the tap's MTU around this kind so the kernel lets it out)
        ("oversized frame (1600 bytes)", [e / IP(src=CLIENT, dst=VIP) / TCP(sport=5060, dport=SVC, flags="S") / Raw(b"o" * 1546)], "drop.eth_oversized"),
        # --- accepted: an ARP probe (RFC 5227) is answered, the control SYN reaches a real server
        ("ARP probe for the VIP (answered)", [arp / ARP(op=1, hwsrc=me, psrc="0.0.0.0", pdst=VIP)], None),
        ("valid SYN (control: reaches a real server)", [e / IP(src=CLIENT, dst=VIP) / TCP(sport=5999, dport=SVC, flags="S", seq=9)], None),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--iface", required=True)
    ap.add_argument("--rvsd-mac", required=True)
    ap.add_argument("--rvsadm", required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--only", help="run only kinds whose name contains this")
    ap.add_argument("--list", action="store_true", help="print the kinds and exit")
    a = ap.parse_args()
    me = get_if_hwaddr(a.iface)
    failed = 0
    ks = kinds(me, a.rvsd_mac)
    if a.list:
        for name, frames, want in ks:
            print(f"{name}: {len(frames)} frame(s) x {N} -> {want}")
        return 0
    for name, frames, want in ks:
        if a.only and a.only not in name:
            continue
        oversized = name.startswith("oversized")
        if oversized:
            subprocess.run(["ip", "link", "set", "dev", a.iface, "mtu", "9000"], check=True, timeout=10)
        before = dp_drops(a.rvsadm, a.socket)
        try:
            sendp(frames * N, iface=a.iface, verbose=False)
        finally:
            if oversized:
                subprocess.run(["ip", "link", "set", "dev", a.iface, "mtu", "1500"], check=True, timeout=10)
        n = len(frames) * N
        expect = want if isinstance(want, dict) else ({want: n} if want else {})
        deadline = time.monotonic() + (6.0 if isinstance(want, dict) else 3.0 if want else 0.5)
        while True:
            after = dp_drops(a.rvsadm, a.socket)
            if expect and all(after.get(k, 0) - before.get(k, 0) >= v for k, v in expect.items()):
                break
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        time.sleep(0.1)
        after = dp_drops(a.rvsadm, a.socket)
        moved = {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
        if moved == expect:
            print(f"ok {name}: {expect or 'no drop'}")
        else:
            failed += 1
            print(f"FAIL {name}: expected {expect or 'no drop'}, counters moved {moved}")
    print(f"{len(ks) if not a.only else '-'} kinds, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
