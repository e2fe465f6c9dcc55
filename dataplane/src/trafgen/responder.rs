//! The stateless responder: stands in for the real servers on the balancer's real-server port.
//!
//! It keeps no per-connection state, so it answers any number of connections at line rate:
//! - ARP requests for an address of its range ([`ResponderConf::servers`]) get a reply with its MAC.
//! - TCP SYN -> SYN-ACK whose ISN is a cookie: a keyed hash of the 4-tuple ([`cookie`]).
//! - A segment with data (the request) whose ACK acknowledges the cookie -> one segment with the
//!   response, PSH|ACK|FIN (the server closes first, as HTTP/1.0 does).
//! - FIN without data that acknowledges the response and our FIN -> ACK.
//! - A bare ACK or an RST -> nothing (counted). A segment whose ACK does not match the cookie is
//!   counted `bad_cookie` and dropped.
//! - UDP to a server address -> counted (packets, and distinct flows when the datagram carries the
//!   client's [`UDP_MAGIC`] header: a bitmap indexed by flow number, sized at construction).
//!
//! Replies are written in place into the received buffer and sent back to the frame's Ethernet
//! source (the balancer), so no neighbour state either.

use std::net::Ipv4Addr;

use super::{parse_arp_reply, parse_arp_request, parse_l4, write_arp, write_tcp, AddrRange, L4};
use crate::port::PacketBuf;
use crate::wire::ethernet;
use crate::wire::{arp, ipv4, tcp};

/// The response's payload (an HTTP/1.0-like answer).
pub const RESPONSE: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
/// The first bytes of a UDP datagram from the client: magic, then flow number (u32 BE), then the
/// sequence number (u64 BE).
pub const UDP_MAGIC: [u8; 4] = *b"RVSG";

/// What the responder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponderConf {
    /// The real servers' addresses.
    pub servers: AddrRange,
    /// The responder port's MAC.
    pub mac: [u8; 6],
    /// Key of the SYN cookies.
    pub secret: u64,
    /// UDP flows to tell apart (bitmap size; flows numbered beyond it are counted as packets only).
    pub udp_flows: u32,
}

/// The responder's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponderStats {
    /// ARP requests answered.
    pub arp_replies: u64,
    /// SYNs answered with a SYN-ACK.
    pub syns: u64,
    /// Requests answered with response + FIN.
    pub requests: u64,
    /// FINs answered with an ACK.
    pub fins: u64,
    /// Bare ACKs (no reply).
    pub acks: u64,
    /// RSTs received.
    pub rsts: u64,
    /// Segments whose acknowledgment did not match the cookie (dropped).
    pub bad_cookie: u64,
    /// UDP datagrams received.
    pub udp_packets: u64,
    /// Distinct UDP flows seen (by the flow number the client put in the payload).
    pub udp_flows: u64,
    /// ARP replies received (answers to [`Responder::announce`]).
    pub arp_answers: u64,
    /// Frames not for us or not understood (dropped).
    pub other: u64,
}

/// The SYN cookie: our ISN for the connection `client` -> `server` (as the responder sees it).
#[inline]
pub fn cookie(secret: u64, client: (Ipv4Addr, u16), server: (Ipv4Addr, u16)) -> u32 {
    let a = (u64::from(u32::from(client.0)) << 32) | u64::from(u32::from(server.0));
    let b = (u64::from(client.1) << 16) | u64::from(server.1);
    let mut x = a ^ secret ^ b.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x as u32
}

/// What to do with a frame after [`Responder::handle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The buffer now holds the reply: send it back on the port it came from.
    Send,
    /// Free the buffer.
    Drop,
}

/// The stateless responder (see the module doc).
#[derive(Debug)]
pub struct Responder {
    conf: ResponderConf,
    stats: ResponderStats,
    seen: Vec<u64>,
}

impl Responder {
    /// A responder for `conf` (allocates the UDP flow bitmap).
    pub fn new(conf: ResponderConf) -> Responder {
        Responder {
            conf,
            stats: ResponderStats::default(),
            seen: vec![0; (conf.udp_flows as usize).div_ceil(64)],
        }
    }

    /// The counters.
    pub fn stats(&self) -> &ResponderStats {
        &self.stats
    }

    /// Write into `buf` the `i`-th announcement: an ARP request from server address `i` for the
    /// balancer's address `lb` on this port, so the balancer learns the server before the first
    /// connection (it learns senders of requests addressed to it). False when `i` is out of range.
    pub fn announce<B: PacketBuf>(&self, i: u32, lb: Ipv4Addr, buf: &mut B) -> bool {
        i < self.conf.servers.count
            && write_arp(
                buf,
                ethernet::BROADCAST,
                arp::op::REQUEST,
                self.conf.mac,
                self.conf.servers.nth(i),
                [0; 6],
                lb,
            )
    }

    /// Handle one received frame; the reply, if any, is written into `buf`.
    pub fn handle<B: PacketBuf>(&mut self, buf: &mut B) -> Reply {
        if let Some((sha, spa, tpa)) = parse_arp_request(buf.data()) {
            if !self.conf.servers.contains(tpa) {
                self.stats.other += 1;
                return Reply::Drop;
            }
            self.stats.arp_replies += 1;
            let mac = self.conf.mac;
            return if write_arp(buf, sha, arp::op::REPLY, mac, tpa, sha, spa) {
                Reply::Send
            } else {
                Reply::Drop
            };
        }
        if parse_arp_reply(buf.data()).is_some() {
            self.stats.arp_answers += 1;
            return Reply::Drop;
        }
        let Some(p) = parse_l4(buf.data()) else {
            self.stats.other += 1;
            return Reply::Drop;
        };
        if !self.conf.servers.contains(p.dst.0) {
            self.stats.other += 1;
            return Reply::Drop;
        }
        match p.proto {
            ipv4::PROTO_TCP => self.tcp(buf, &p),
            _ => {
                self.udp(buf.data(), &p);
                Reply::Drop
            }
        }
    }

    fn udp(&mut self, f: &[u8], p: &L4) {
        self.stats.udp_packets += 1;
        let pl = &f[p.payload_off..p.payload_off + p.payload_len];
        if pl.len() >= 8 && pl[..4] == UDP_MAGIC {
            let flow = u32::from_be_bytes([pl[4], pl[5], pl[6], pl[7]]) as usize;
            if let Some(w) = self.seen.get_mut(flow / 64) {
                let bit = 1u64 << (flow % 64);
                if *w & bit == 0 {
                    *w |= bit;
                    self.stats.udp_flows += 1;
                }
            }
        }
    }

    fn tcp<B: PacketBuf>(&mut self, buf: &mut B, p: &L4) -> Reply {
        let f = p.flags;
        let isn = cookie(self.conf.secret, p.src, p.dst);
        let macs = (p.eth_src, self.conf.mac);
        let (ok, flags, seq, ack, payload): (bool, u8, u32, u32, &[u8]) = if f & tcp::FLAG_RST != 0
        {
            self.stats.rsts += 1;
            return Reply::Drop;
        } else if f & tcp::FLAG_SYN != 0 {
            if f & tcp::FLAG_ACK != 0 {
                self.stats.other += 1;
                return Reply::Drop;
            }
            self.stats.syns += 1;
            (
                true,
                tcp::FLAG_SYN | tcp::FLAG_ACK,
                isn,
                p.seq.wrapping_add(1),
                &[],
            )
        } else if f & tcp::FLAG_ACK == 0 {
            self.stats.other += 1;
            return Reply::Drop;
        } else if p.payload_len > 0 {
            if p.ack != isn.wrapping_add(1) {
                self.stats.bad_cookie += 1;
                return Reply::Drop;
            }
            self.stats.requests += 1;
            let fin = u32::from(f & tcp::FLAG_FIN != 0);
            (
                true,
                tcp::FLAG_PSH | tcp::FLAG_ACK | tcp::FLAG_FIN,
                isn.wrapping_add(1),
                p.seq.wrapping_add(p.payload_len as u32 + fin),
                RESPONSE,
            )
        } else if f & tcp::FLAG_FIN != 0 {
            if p.ack != isn.wrapping_add(2 + RESPONSE.len() as u32) {
                self.stats.bad_cookie += 1;
                return Reply::Drop;
            }
            self.stats.fins += 1;
            (true, tcp::FLAG_ACK, p.ack, p.seq.wrapping_add(1), &[])
        } else {
            self.stats.acks += 1;
            return Reply::Drop;
        };
        if ok && write_tcp(buf, macs, p.dst, p.src, seq, ack, flags, payload) {
            Reply::Send
        } else {
            Reply::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::VecBuf;
    use crate::trafgen::write_udp;
    use etherparse::{SlicedPacket, TransportSlice};

    const LB: [u8; 6] = [2, 0, 0, 0, 0, 0xaa];
    const ME: [u8; 6] = [2, 0, 0, 0, 0, 0xbb];
    const C: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 9, 1), 1025);
    const S: (Ipv4Addr, u16) = (Ipv4Addr::new(10, 10, 1, 3), 8080);

    fn responder() -> Responder {
        Responder::new(ResponderConf {
            servers: AddrRange {
                first: Ipv4Addr::new(10, 10, 1, 2),
                count: 4,
            },
            mac: ME,
            secret: 42,
            udp_flows: 100,
        })
    }

    fn seg(flags: u8, seq: u32, ack: u32, payload: &[u8]) -> VecBuf {
        let mut b = VecBuf::empty();
        assert!(write_tcp(&mut b, (ME, LB), C, S, seq, ack, flags, payload));
        b
    }

    /// (flags, seq, ack, payload) of a reply, checked with etherparse, sent from S to C at LB.
    fn reply(b: &VecBuf) -> (u8, u32, u32, Vec<u8>) {
        assert_eq!(&b.data()[0..6], &LB);
        assert_eq!(&b.data()[6..12], &ME);
        let p = SlicedPacket::from_ethernet(b.data()).unwrap();
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!("not tcp")
        };
        assert_eq!((t.source_port(), t.destination_port()), (S.1, C.1));
        let l4 = parse_l4(b.data()).expect("valid checksums");
        assert_eq!((l4.src, l4.dst), (S, C));
        (
            l4.flags,
            t.sequence_number(),
            t.acknowledgment_number(),
            t.payload().to_vec(),
        )
    }

    #[test]
    fn full_connection_without_state() {
        let mut r = responder();
        let isn = cookie(42, C, S);
        let mut b = seg(tcp::FLAG_SYN, 1000, 0, &[]);
        assert_eq!(r.handle(&mut b), Reply::Send);
        assert_eq!(
            reply(&b),
            (tcp::FLAG_SYN | tcp::FLAG_ACK, isn, 1001, vec![])
        );
        let mut b = seg(tcp::FLAG_ACK, 1001, isn + 1, &[]);
        assert_eq!(r.handle(&mut b), Reply::Drop);
        let mut b = seg(
            tcp::FLAG_PSH | tcp::FLAG_ACK,
            1001,
            isn + 1,
            b"GET / HTTP/1.0\r\n\r\n",
        );
        assert_eq!(r.handle(&mut b), Reply::Send);
        assert_eq!(
            reply(&b),
            (
                tcp::FLAG_PSH | tcp::FLAG_ACK | tcp::FLAG_FIN,
                isn + 1,
                1019,
                RESPONSE.to_vec()
            )
        );
        let after = isn + 2 + RESPONSE.len() as u32;
        let mut b = seg(tcp::FLAG_FIN | tcp::FLAG_ACK, 1019, after, &[]);
        assert_eq!(r.handle(&mut b), Reply::Send);
        assert_eq!(reply(&b), (tcp::FLAG_ACK, after, 1020, vec![]));
        // A forged acknowledgment is refused.
        let mut b = seg(tcp::FLAG_PSH | tcp::FLAG_ACK, 1001, isn + 7, b"x");
        assert_eq!(r.handle(&mut b), Reply::Drop);
        let mut b = seg(tcp::FLAG_RST, 1, 0, &[]);
        assert_eq!(r.handle(&mut b), Reply::Drop);
        assert_eq!(
            *r.stats(),
            ResponderStats {
                syns: 1,
                requests: 1,
                fins: 1,
                acks: 1,
                rsts: 1,
                bad_cookie: 1,
                ..ResponderStats::default()
            }
        );
    }

    #[test]
    fn arp_udp_and_strangers() {
        let mut r = responder();
        let mut b = VecBuf::empty();
        let lb_ip = Ipv4Addr::new(10, 10, 1, 1);
        assert!(write_arp(
            &mut b,
            ethernet::BROADCAST,
            arp::op::REQUEST,
            LB,
            lb_ip,
            [0; 6],
            Ipv4Addr::new(10, 10, 1, 5)
        ));
        assert_eq!(r.handle(&mut b), Reply::Send);
        assert_eq!(
            parse_arp_reply(b.data()),
            Some((ME, Ipv4Addr::new(10, 10, 1, 5)))
        );
        assert_eq!(&b.data()[0..6], &LB);
        // Outside the range: not answered.
        assert!(write_arp(
            &mut b,
            ethernet::BROADCAST,
            arp::op::REQUEST,
            LB,
            lb_ip,
            [0; 6],
            Ipv4Addr::new(10, 10, 1, 6)
        ));
        assert_eq!(r.handle(&mut b), Reply::Drop);
        for flow in [3u32, 4, 3, 500] {
            let mut pl = [0u8; 16];
            pl[..4].copy_from_slice(&UDP_MAGIC);
            pl[4..8].copy_from_slice(&flow.to_be_bytes());
            assert!(write_udp(&mut b, (ME, LB), C, (S.0, 9000), &pl, 60));
            assert_eq!(r.handle(&mut b), Reply::Drop);
        }
        let mut b = VecBuf::empty();
        assert!(write_udp(
            &mut b,
            (ME, LB),
            C,
            (Ipv4Addr::new(10, 10, 2, 2), 9000),
            b"",
            60
        ));
        assert_eq!(r.handle(&mut b), Reply::Drop);
        let s = r.stats();
        assert_eq!(
            (s.arp_replies, s.udp_packets, s.udp_flows, s.other),
            (1, 4, 2, 2)
        );
    }
}
