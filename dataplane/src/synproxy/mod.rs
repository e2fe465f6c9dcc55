//! The SYN proxy: SYN cookies in front of NAT and FULLNAT TCP services, so a SYN flood with forged
//! sources costs no session and no real-server resource.
//!
//! How a proxied connection goes (the load balancer's side is in `lb/synproxy.rs`):
//!
//! 1. The client's SYN, with no session, to a service whose dests are all NAT or FULLNAT, while the
//!    proxy is engaged: answered in place with a SYN-ACK from the VIP whose sequence number is a
//!    [`cookie`] and which carries an MSS option (the client's MSS rounded down to [`cookie::MSS_TABLE`])
//!    and nothing else (no window scaling, SACK or timestamps: they would need state). Nothing is
//!    stored: a flood of forged SYNs only costs these answers (counted `synproxy_cookies_sent`).
//! 2. The client's ACK, with no session: the cookie (`ack - 1`) is checked against the tuple and the
//!    ISN (`seq - 1`). A bad or expired cookie is dropped (`drop.synproxy_bad_cookie`). A good one
//!    makes the new connection exactly as a SYN does without the proxy (ACL, connection limit,
//!    scheduler, FULLNAT local port, session insert), then the ACK is rebuilt in place into the
//!    proxy's own SYN to the real server: the client's ISN, the cookie's MSS, the client's window.
//!    The session is `SYN_SENT`, flagged proxied and pending; its side entry ([`SpSlot`]) keeps the
//!    cookie, the client's window and the MSS.
//! 3. Client packets while pending are held by the worker ([`hold`]), a few per session, and
//!    re-injected once the real server answers; a client packet arriving [`SYN_RETRY_MS`] or more
//!    after the last SYN is rebuilt into a retransmission of that SYN instead (the client's own
//!    retransmissions drive ours).
//! 4. The real server's SYN-ACK (seq `S`) is not forwarded: the sequence delta `S - cookie` is stored,
//!    the SYN-ACK is rebuilt in place into the proxy's ACK to the real server, the session becomes
//!    `ESTABLISHED` and the held packets are released. A retransmitted SYN-ACK is acknowledged again.
//!    A RST instead of a SYN-ACK is passed to the client with the sequence number it expects.
//! 5. From then on every packet of the session is replayed as usual and its sequence numbers shifted
//!    ([`shift`]): client -> server `ack += delta`, server -> client `seq -= delta`, checksums patched
//!    incrementally (RFC 1624).
//!
//! Modes ([`SynproxyMode`], `[dataplane] synproxy`): `off`; `on` proxies every new connection of a
//! proxiable service; `auto` (the default) engages on an lcore while its half-open sessions (state
//! `SYN_RECV`) reach the threshold and disengages when they fall to half of it, so ordinary traffic
//! keeps the plain path. Cookies stay checkable for [`cookie::MAX_AGE`] periods after the proxy last
//! engaged; otherwise a lone ACK is `no_session` as before.
//!
//! Direct routing and tunnel dests are never proxied (the replies bypass us, so the sequence numbers
//! could not be shifted): a service with any such dest keeps the plain path, as DPVS does.
//!
//! Memory: one 12-byte [`SpSlot`] per session slot (allocated when the mode is not `off`), the
//! per-lcore hold store, nothing per SYN. The per-lcore state lives in [`Synproxy`].

pub mod cookie;
pub mod hold;

use crate::checksum;
use crate::session::tcp_state::SYN_RECV;
use crate::session::Dir;
use crate::stats::DropReason;
use crate::wire::ipv4::{Ipv4Header, Ipv4Packet, HEADER_LEN as IP_HEADER_LEN, PROTO_TCP};
use crate::wire::tcp::{TcpPacket, FLAG_ACK, HEADER_LEN as TCP_HEADER_LEN};
use cookie::CookieKey;
pub use rvs_config::SynproxyMode;
use rvs_control::proto::Counter;
use std::net::Ipv4Addr;

/// TTL of the packets the proxy originates.
pub const TTL: u8 = 64;
/// A client packet this long after the proxy's last SYN to a silent real server triggers a SYN
/// retransmission.
pub const SYN_RETRY_MS: u64 = 1000;
/// The longest packet the proxy builds: IPv4 + TCP + MSS option.
pub const MAX_BUILT: usize = IP_HEADER_LEN + TCP_HEADER_LEN + 4;
/// The most a rebuilt packet can outgrow the one it replaces (an option-less segment -> one with MSS).
pub const MAX_GROWTH: usize = 4;

/// The proxy's settings for one lcore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynproxyConf {
    /// Off, on, or engaged by the half-open count.
    pub mode: SynproxyMode,
    /// `auto`: half-open (`SYN_RECV`) sessions on the lcore that engage the proxy; it disengages at
    /// half of it.
    pub threshold: usize,
    /// The cookie secret (random per process).
    pub secret: [u64; 2],
}

impl Default for SynproxyConf {
    /// Off.
    fn default() -> Self {
        SynproxyConf {
            mode: SynproxyMode::Off,
            threshold: 1024,
            secret: [0, 0],
        }
    }
}

/// What the proxy remembers of a proxied session, beside its flags: indexed by session slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpSlot {
    /// Pending: the cookie (our ISN towards the client). Then: the delta `server ISN - cookie`.
    pub seq: u32,
    /// The client's ISN (the sequence number of the proxy's SYN, for a retransmission).
    pub isn: u32,
    /// The client's window (unscaled: no window scaling was offered), for the proxy's SYN and ACK.
    pub win: u16,
    /// The MSS the proxy's SYN offers the real server.
    pub mss: u16,
}

#[derive(Debug, Default, Clone, Copy)]
struct SpCounters {
    engagements: u64,
    cookies_sent: u64,
    cookies_valid: u64,
    cookies_invalid: u64,
    established: u64,
    held: u64,
    syn_retransmits: u64,
    synack_retransmits: u64,
}

/// One lcore's SYN proxy state: mode, engagement, the half-open count, the cookie key, the side
/// entries of proxied sessions and counters.
#[derive(Debug)]
pub struct Synproxy {
    conf: SynproxyConf,
    key: CookieKey,
    engaged: bool,
    half_open: usize,
    last_engaged_ms: Option<u64>,
    slots: Vec<SpSlot>,
    release: Option<u32>,
    c: SpCounters,
}

impl Synproxy {
    /// The proxy of an lcore whose session table has `capacity` slots (side entries are allocated
    /// unless the mode is `off`).
    pub fn new(conf: SynproxyConf, capacity: usize) -> Self {
        let slots = if conf.mode == SynproxyMode::Off {
            Vec::new()
        } else {
            vec![SpSlot::default(); capacity]
        };
        Synproxy {
            conf,
            key: CookieKey::new(conf.secret),
            engaged: conf.mode == SynproxyMode::On,
            half_open: 0,
            last_engaged_ms: None,
            slots,
            release: None,
            c: SpCounters::default(),
        }
    }

    /// The settings.
    pub fn conf(&self) -> &SynproxyConf {
        &self.conf
    }

    /// The cookie key.
    pub fn key(&self) -> &CookieKey {
        &self.key
    }

    /// Whether the mode is not `off`.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.conf.mode != SynproxyMode::Off
    }

    /// Half-open (`SYN_RECV`) sessions on this lcore.
    pub fn half_open(&self) -> usize {
        self.half_open
    }

    /// Whether the proxy answers SYNs now.
    pub fn engaged(&self) -> bool {
        self.engaged
    }

    /// Track a session's state change (`NONE` for a removal) for the half-open count.
    #[inline]
    pub fn on_state(&mut self, old: u8, new: u8) {
        if old != new {
            if old == SYN_RECV {
                self.half_open = self.half_open.saturating_sub(1);
            }
            if new == SYN_RECV {
                self.half_open += 1;
            }
        }
    }

    /// Re-evaluate engagement (`auto`: on at the threshold, off at half of it) at `now_ms`.
    pub fn update(&mut self, now_ms: u64) {
        match self.conf.mode {
            SynproxyMode::Off => self.engaged = false,
            SynproxyMode::On => {
                self.engaged = true;
                self.last_engaged_ms = Some(now_ms);
            }
            SynproxyMode::Auto => {
                let hi = self.conf.threshold.max(1);
                if !self.engaged && self.half_open >= hi {
                    self.engaged = true;
                    self.c.engagements += 1;
                } else if self.engaged && self.half_open <= hi / 2 {
                    self.engaged = false;
                }
                if self.engaged {
                    self.last_engaged_ms = Some(now_ms);
                }
            }
        }
    }

    /// Whether a SYN without session is answered with a cookie at `now_ms`.
    #[inline]
    pub fn answers_syn(&mut self, now_ms: u64) -> bool {
        self.update(now_ms);
        self.engaged
    }

    /// Whether an ACK without session may carry a cookie of ours at `now_ms`: the proxy is engaged or
    /// was, less than [`cookie::MAX_AGE`] periods ago.
    #[inline]
    pub fn cookies_outstanding(&self, now_ms: u64) -> bool {
        let window = u64::from(cookie::MAX_AGE) << cookie::PERIOD_SHIFT;
        match self.conf.mode {
            SynproxyMode::Off => false,
            SynproxyMode::On => true,
            SynproxyMode::Auto => self
                .last_engaged_ms
                .is_some_and(|t| now_ms < t.saturating_add(window)),
        }
    }

    /// The side entry of session slot `slot`.
    #[inline]
    pub fn slot(&self, slot: u32) -> SpSlot {
        self.slots.get(slot as usize).copied().unwrap_or_default()
    }

    /// Set the side entry of session slot `slot`.
    #[inline]
    pub fn set_slot(&mut self, slot: u32, v: SpSlot) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            *s = v;
        }
    }

    /// Note that the packets held for session slot `slot` may go (the worker takes it with
    /// [`Synproxy::take_release`]).
    pub fn release(&mut self, slot: u32) {
        self.release = Some(slot);
    }

    /// The session slot whose held packets may go, once.
    #[inline]
    pub fn take_release(&mut self) -> Option<u32> {
        // Checked after every packet: a load, and a store only when there is something to take.
        if self.release.is_some() {
            self.release.take()
        } else {
            None
        }
    }

    /// Count a SYN answered with a cookie.
    pub fn count_cookie_sent(&mut self) {
        self.c.cookies_sent += 1;
    }

    /// Count a checked cookie.
    pub fn count_cookie(&mut self, valid: bool) {
        if valid {
            self.c.cookies_valid += 1;
        } else {
            self.c.cookies_invalid += 1;
        }
    }

    /// Count a proxied session whose real server answered.
    pub fn count_established(&mut self) {
        self.c.established += 1;
    }

    /// Count a packet handed to the worker to hold.
    pub fn count_held(&mut self) {
        self.c.held += 1;
    }

    /// Count a SYN retransmitted to a silent real server.
    pub fn count_syn_retransmit(&mut self) {
        self.c.syn_retransmits += 1;
    }

    /// Count a retransmitted SYN-ACK acknowledged again.
    pub fn count_synack_retransmit(&mut self) {
        self.c.synack_retransmits += 1;
    }

    /// Named counters: `synproxy_engaged` (0/1), `synproxy_engagements` (auto mode turning on),
    /// `synproxy_half_open`, `synproxy_cookies_sent`, `synproxy_cookies_valid`,
    /// `synproxy_cookies_invalid`, `synproxy_established` (proxied sessions the real server
    /// answered), `synproxy_held` (packets handed to the hold store), `synproxy_syn_retransmits`,
    /// `synproxy_synack_retransmits`.
    pub fn counters(&self, out: &mut Vec<Counter>) {
        let c = &self.c;
        for (name, value) in [
            ("synproxy_engaged", u64::from(self.engaged)),
            ("synproxy_engagements", c.engagements),
            ("synproxy_half_open", self.half_open as u64),
            ("synproxy_cookies_sent", c.cookies_sent),
            ("synproxy_cookies_valid", c.cookies_valid),
            ("synproxy_cookies_invalid", c.cookies_invalid),
            ("synproxy_established", c.established),
            ("synproxy_held", c.held),
            ("synproxy_syn_retransmits", c.syn_retransmits),
            ("synproxy_synack_retransmits", c.synack_retransmits),
        ] {
            out.push(Counter {
                name: name.to_string(),
                value,
            });
        }
    }
}

/// The TCP fields of a segment the proxy reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Window.
    pub win: u16,
    /// The MSS option, if any.
    pub mss: Option<u16>,
}

impl Segment {
    /// Read the TCP fields of the IPv4 packet `ip` (already validated by the load balancer).
    pub fn parse(ip: &[u8]) -> Option<Segment> {
        let p = Ipv4Packet::new_checked(ip).ok()?;
        let t = TcpPacket::new_checked(p.payload()).ok()?;
        let opts = p.payload().get(TCP_HEADER_LEN..t.header_len())?;
        Some(Segment {
            seq: t.seq(),
            ack: t.ack_number(),
            win: t.window(),
            mss: mss_option(opts),
        })
    }
}

/// The MSS option in TCP options `opts` (RFC 9293 3.2: kind 2, length 4), if present and well formed.
fn mss_option(opts: &[u8]) -> Option<u16> {
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return None,
            1 => i += 1,
            kind => {
                let len = usize::from(*opts.get(i + 1)?);
                if len < 2 {
                    return None;
                }
                if kind == 2 && len == 4 {
                    let v = opts.get(i + 2..i + 4)?;
                    return Some(u16::from_be_bytes([v[0], v[1]]));
                }
                i += len;
            }
        }
    }
    None
}

/// A TCP segment the proxy originates (no payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Built {
    /// Source address and port.
    pub src: (Ipv4Addr, u16),
    /// Destination address and port.
    pub dst: (Ipv4Addr, u16),
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (0 without ACK).
    pub ack: u32,
    /// TCP flags byte.
    pub flags: u8,
    /// Window.
    pub win: u16,
    /// MSS option to carry.
    pub mss: Option<u16>,
}

impl Built {
    /// Write the IPv4 packet into `out` (DF set, TTL [`TTL`], identification 0, checksums computed);
    /// returns its length (40, or 44 with the MSS option).
    pub fn write(&self, out: &mut [u8; MAX_BUILT]) -> usize {
        let opt_len = if self.mss.is_some() { 4 } else { 0 };
        let tcp_len = TCP_HEADER_LEN + opt_len;
        let len = IP_HEADER_LEN + tcp_len;
        let hdr = Ipv4Header {
            src: self.src.0,
            dst: self.dst.0,
            protocol: PROTO_TCP,
            payload_len: tcp_len as u16,
            ttl: TTL,
            ident: 0,
            dont_frag: true,
            tos: 0,
        };
        // 20 bytes and a 44-byte packet: cannot fail.
        let _ = hdr.emit(&mut out[..]);
        let t = &mut out[IP_HEADER_LEN..len];
        t[0..2].copy_from_slice(&self.src.1.to_be_bytes());
        t[2..4].copy_from_slice(&self.dst.1.to_be_bytes());
        t[4..8].copy_from_slice(&self.seq.to_be_bytes());
        t[8..12].copy_from_slice(&self.ack.to_be_bytes());
        t[12] = ((tcp_len / 4) as u8) << 4;
        t[13] = self.flags;
        t[14..16].copy_from_slice(&self.win.to_be_bytes());
        t[16..20].copy_from_slice(&[0; 4]);
        if let Some(mss) = self.mss {
            t[20] = 2;
            t[21] = 4;
            t[22..24].copy_from_slice(&mss.to_be_bytes());
        }
        let c = checksum::l4_checksum_v4(self.src.0, self.dst.0, PROTO_TCP, t);
        t[16..18].copy_from_slice(&c.to_be_bytes());
        len
    }

    /// Replace the IPv4 packet `ip` by this segment: the bytes that do not fit in `ip` (at most
    /// [`MAX_GROWTH`]) go into the returned [`Emitted`]'s front part, which the pipeline inserts before
    /// the rest (the frame grows into its headroom).
    pub fn place(&self, ip: &mut [u8]) -> Result<Emitted, DropReason> {
        let mut b = [0u8; MAX_BUILT];
        let n = self.write(&mut b);
        let grow = n.saturating_sub(ip.len());
        if grow > MAX_GROWTH {
            return Err(DropReason::TcpMalformed);
        }
        let rest = n - grow;
        ip[..rest].copy_from_slice(&b[grow..n]);
        let mut front = [0u8; MAX_GROWTH];
        front[..grow].copy_from_slice(&b[..grow]);
        Ok(Emitted {
            to: self.dst.0,
            front,
            front_len: grow as u8,
            ip_len: rest as u16,
        })
    }
}

/// A packet the proxy built in place of the one received ([`crate::lb::LbVerdict::Emit`]): sent to
/// `to` without a TTL decrement; the frame is `front` (the first `front_len` bytes of the packet,
/// inserted after the Ethernet header) followed by the first `ip_len` bytes of the received packet's
/// place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emitted {
    /// Destination to route.
    pub to: Ipv4Addr,
    /// Bytes of the packet that precede the received packet's place.
    pub front: [u8; MAX_GROWTH],
    /// How many of `front` are used.
    pub front_len: u8,
    /// Length of the rest, in the received packet's place.
    pub ip_len: u16,
}

impl Emitted {
    /// The front bytes.
    pub fn front(&self) -> &[u8] {
        &self.front[..usize::from(self.front_len)]
    }
}

/// Shift the sequence numbers of a proxied session's packet `ip` (TCP, after the address rewrite):
/// client -> server (`Dir::In`) `ack += delta` when the ACK flag is set, server -> client
/// (`Dir::Out`) `seq -= delta`. Checksum patched incrementally.
#[inline(never)]
pub fn shift(ip: &mut [u8], dir: Dir, delta: u32) -> Result<(), DropReason> {
    let mut p = Ipv4Packet::new_checked(ip).map_err(|_| DropReason::Ipv4Malformed)?;
    let mut t = TcpPacket::new_checked(p.payload_mut()).map_err(|_| DropReason::TcpMalformed)?;
    match dir {
        Dir::In if t.flags() & FLAG_ACK != 0 => {
            t.rewrite_ack_number(t.ack_number().wrapping_add(delta))
        }
        Dir::In => {}
        Dir::Out => t.rewrite_seq(t.seq().wrapping_sub(delta)),
    }
    Ok(())
}

/// The window the proxy's SYN-ACK advertises for MSS `mss`: [`hold::HOLD_PER_SESSION`] segments, so
/// what the client sends before the real server answers fits in the hold store.
pub fn synack_window(mss: u16) -> u16 {
    u16::try_from(usize::from(mss) * hold::HOLD_PER_SESSION).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mss_option_parsing() {
        assert_eq!(mss_option(&[2, 4, 5, 0xb4]), Some(1460));
        assert_eq!(mss_option(&[1, 1, 2, 4, 5, 0x8c]), Some(1420));
        assert_eq!(
            mss_option(&[4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 2, 4, 2, 0x18]),
            Some(536)
        );
        assert_eq!(
            mss_option(&[0, 2, 4, 5, 0xb4]),
            None,
            "after end of options"
        );
        assert_eq!(mss_option(&[3, 3, 7]), None);
        assert_eq!(mss_option(&[2, 4, 5]), None, "cut");
        assert_eq!(mss_option(&[5, 0, 2, 4, 5, 0xb4]), None, "length 0");
        assert_eq!(mss_option(&[]), None);
    }

    #[test]
    fn auto_engages_at_the_threshold_and_disengages_at_half() {
        let mut sp = Synproxy::new(
            SynproxyConf {
                mode: SynproxyMode::Auto,
                threshold: 4,
                secret: [1, 2],
            },
            16,
        );
        for _ in 0..3 {
            sp.on_state(0, SYN_RECV);
        }
        assert!(!sp.answers_syn(10));
        assert!(!sp.cookies_outstanding(10));
        sp.on_state(0, SYN_RECV);
        assert!(sp.answers_syn(20));
        assert!(sp.cookies_outstanding(20));
        sp.on_state(SYN_RECV, 1);
        assert!(sp.answers_syn(30), "3 > 4 / 2: still engaged");
        sp.on_state(SYN_RECV, 0);
        assert!(!sp.answers_syn(40), "2 <= 4 / 2: disengaged");
        // Cookies made while engaged stay checkable for two periods after the last engagement.
        let window = u64::from(cookie::MAX_AGE) << cookie::PERIOD_SHIFT;
        assert!(sp.cookies_outstanding(30 + window - 1));
        assert!(!sp.cookies_outstanding(30 + window));
        let mut v = Vec::new();
        sp.counters(&mut v);
        let get = |n: &str| v.iter().find(|c| c.name == n).map(|c| c.value);
        assert_eq!(get("synproxy_engaged"), Some(0));
        assert_eq!(get("synproxy_engagements"), Some(1));
        assert_eq!(get("synproxy_half_open"), Some(2));
    }

    #[test]
    fn on_is_always_engaged_off_never() {
        let conf = SynproxyConf {
            mode: SynproxyMode::On,
            threshold: 1,
            secret: [0, 0],
        };
        let mut on = Synproxy::new(conf, 4);
        assert!(on.answers_syn(0) && on.cookies_outstanding(0));
        assert_eq!(on.slots.len(), 4);
        let mut off = Synproxy::new(
            SynproxyConf {
                mode: SynproxyMode::Off,
                ..conf
            },
            4,
        );
        off.on_state(0, SYN_RECV);
        assert!(!off.answers_syn(0) && !off.cookies_outstanding(0));
        assert!(off.slots.is_empty(), "no side entries when off");
    }
}
