//! Body of the `wire` fuzz target: every packet view of `rvs_dataplane::wire` gets `new_checked` on
//! the raw input, then every getter (the views promise that no accessor panics once `new_checked`
//! succeeded), then the setters on a copy; and the chained parse Ethernet -> ARP / IPv4 -> TCP / UDP /
//! ICMP the pipeline does, with the invariants asserted (lengths add up, checksum updates keep a right
//! checksum right).

use std::hint::black_box;
use std::net::Ipv4Addr;

use rvs_dataplane::wire::arp::ArpPacket;
use rvs_dataplane::wire::ethernet::{self, EthernetFrame};
use rvs_dataplane::wire::icmp::IcmpPacket;
use rvs_dataplane::wire::ipv4::Ipv4Packet;
use rvs_dataplane::wire::tcp::TcpPacket;
use rvs_dataplane::wire::udp::UdpPacket;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 168, 7, 9);

fn ethernet(data: &[u8]) {
    if let Ok(e) = EthernetFrame::new_checked(data) {
        black_box((e.dst(), e.src(), e.ethertype(), e.payload().len()));
        black_box(ethernet::is_multicast(e.src()));
        let mut m = EthernetFrame::new_checked(data.to_vec()).expect("same bytes");
        m.set_dst([2; 6]);
        m.set_src([4; 6]);
        m.set_ethertype(0x0800);
        black_box(m.payload_mut().len());
    }
}

fn arp(data: &[u8]) {
    if let Ok(a) = ArpPacket::new_checked(data) {
        black_box((a.op(), a.sha(), a.spa(), a.tha(), a.tpa()));
    }
}

fn ipv4(data: &[u8]) {
    if let Ok(p) = Ipv4Packet::new_checked(data) {
        black_box((
            p.header_len(),
            p.tos(),
            p.total_len(),
            p.ident(),
            p.flags_frag(),
        ));
        black_box((
            p.dont_frag(),
            p.is_fragment(),
            p.ttl(),
            p.protocol(),
            p.checksum(),
        ));
        black_box((p.src(), p.dst(), p.verify_checksum()));
        assert_eq!(p.header().len(), p.header_len());
        assert_eq!(p.header_len() + p.payload().len(), p.total_len());
        let mut m = Ipv4Packet::new_checked(data.to_vec()).expect("same bytes");
        black_box(m.decrement_ttl());
        m.rewrite_src(A);
        m.rewrite_dst(B);
        // Incremental updates keep a right checksum right.
        assert!(m.verify_checksum() || !p.verify_checksum());
        m.set_ttl(9);
        m.set_src(B);
        m.set_dst(A);
        m.fill_checksum();
        assert!(m.verify_checksum());
        black_box(m.payload_mut().len());
    }
}

fn tcp(data: &[u8]) {
    if let Ok(t) = TcpPacket::new_checked(data) {
        black_box((
            t.src_port(),
            t.dst_port(),
            t.seq(),
            t.ack_number(),
            t.header_len(),
        ));
        black_box((t.flags(), t.syn(), t.ack(), t.fin(), t.rst(), t.window()));
        black_box((t.checksum(), t.payload().len(), t.verify_checksum_v4(A, B)));
        let mut m = TcpPacket::new_checked(data.to_vec()).expect("same bytes");
        m.fill_checksum_v4(A, B);
        assert!(m.verify_checksum_v4(A, B));
        m.rewrite_src_port(1);
        m.rewrite_dst_port(65535);
        m.patch_pseudo_addr(A, B);
        assert!(m.verify_checksum_v4(B, B));
        m.set_src_port(2);
        m.set_dst_port(3);
        m.set_checksum(0);
    }
}

fn udp(data: &[u8]) {
    if let Ok(u) = UdpPacket::new_checked(data) {
        black_box((
            u.src_port(),
            u.dst_port(),
            u.len(),
            u.is_empty(),
            u.checksum(),
        ));
        black_box((u.payload().len(), u.verify_checksum_v4(A, B)));
        let mut m = UdpPacket::new_checked(data.to_vec()).expect("same bytes");
        m.fill_checksum_v4(A, B);
        assert!(m.verify_checksum_v4(A, B));
        m.rewrite_src_port(1);
        m.rewrite_dst_port(65535);
        m.patch_pseudo_addr(A, B);
        m.set_src_port(2);
        m.set_dst_port(3);
        m.set_checksum(0);
    }
}

fn icmp(data: &[u8]) {
    if let Ok(i) = IcmpPacket::new_checked(data) {
        black_box((i.msg_type(), i.code(), i.checksum(), i.verify_checksum()));
        black_box((i.echo_id(), i.echo_seq(), i.is_error(), i.payload().len()));
        black_box(i.embedded().map(<[u8]>::len));
        let mut m = IcmpPacket::new_checked(data.to_vec()).expect("same bytes");
        m.set_msg_type(8);
        m.set_code(0);
        m.set_echo_id(1);
        m.set_echo_seq(2);
        m.fill_checksum();
        assert!(m.verify_checksum());
        m.make_echo_reply();
        assert!(m.verify_checksum());
        black_box(m.payload_mut().len());
        m.set_checksum(0);
    }
}

/// How far the chained parse (as the pipeline walks a frame) got for one input; tests use it to see
/// that the saved inputs reach every view.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// An Ethernet header parsed.
    pub ethernet: bool,
    /// An ARP packet parsed inside it.
    pub arp: bool,
    /// An IPv4 packet parsed inside it.
    pub ipv4: bool,
    /// A TCP segment parsed inside the IPv4 packet.
    pub tcp: bool,
    /// A UDP datagram parsed inside the IPv4 packet.
    pub udp: bool,
    /// An ICMP message parsed inside the IPv4 packet.
    pub icmp: bool,
    /// An ICMP error carried an IPv4 header that parsed.
    pub icmp_embedded_ipv4: bool,
}

/// Ethernet -> ARP / IPv4 -> transport, as the pipeline walks a frame.
fn chained(data: &[u8]) -> Reached {
    let mut r = Reached::default();
    let Ok(e) = EthernetFrame::new_checked(data) else {
        return r;
    };
    r.ethernet = true;
    match e.ethertype() {
        0x0806 => {
            arp(e.payload());
            r.arp = ArpPacket::new_checked(e.payload()).is_ok();
        }
        0x0800 => {
            if let Ok(p) = Ipv4Packet::new_checked(e.payload()) {
                r.ipv4 = true;
                match p.protocol() {
                    6 => {
                        tcp(p.payload());
                        r.tcp = TcpPacket::new_checked(p.payload()).is_ok();
                    }
                    17 => {
                        udp(p.payload());
                        r.udp = UdpPacket::new_checked(p.payload()).is_ok();
                    }
                    1 => {
                        icmp(p.payload());
                        if let Ok(i) = IcmpPacket::new_checked(p.payload()) {
                            r.icmp = true;
                            if let Some(inner) = i.embedded() {
                                ipv4(inner);
                                r.icmp_embedded_ipv4 = Ipv4Packet::new_checked(inner).is_ok();
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    r
}

/// Run one input through every view, then the chained parse; panics on a broken invariant.
pub fn run(data: &[u8]) -> Reached {
    ethernet(data);
    arp(data);
    ipv4(data);
    tcp(data);
    udp(data);
    icmp(data);
    chained(data)
}
