//! Per-lcore counters and the reasons a packet is dropped.
//!
//! Every drop has a [`DropReason`]; each reason is one counter. The dataplane never formats or
//! allocates on a drop: it bumps `drops[reason as usize]`.

/// Why a packet was dropped. One counter each; names are stable (they are shown by `rvsadm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// Frame shorter than an Ethernet header.
    EthTruncated,
    /// EtherType we do not handle (IPv6 for now, VLAN, ...).
    EthUnsupported,
    /// Malformed ARP.
    ArpMalformed,
    /// IPv4 header truncated or inconsistent (IHL < 5, total length beyond the frame, ...).
    Ipv4Malformed,
    /// IPv4 header checksum wrong.
    Ipv4BadChecksum,
    /// IPv4 fragment we never forward: to one of our own addresses (ICMP echo...) or of a protocol
    /// other than TCP/UDP (see [`crate::frag`] for the fragments of TCP/UDP datagrams).
    Ipv4Fragment,
    /// TTL expired on a forwarded packet.
    Ipv4TtlExpired,
    /// TCP header truncated or data offset < 5.
    TcpMalformed,
    /// UDP header truncated or length inconsistent.
    UdpMalformed,
    /// ICMP malformed.
    IcmpMalformed,
    /// No route to the destination.
    NoRoute,
    /// Neighbour unresolved and its pending queue full (or resolution failed).
    NeighUnresolved,
    /// Packet to us that no service, session or local handler accepts.
    NotForUs,
    /// No session and the packet cannot start one (e.g. TCP without SYN).
    NoSession,
    /// The service has no available real server.
    NoDest,
    /// No free local port in this lcore's FULLNAT slice.
    NoLocalPort,
    /// The session table is full.
    SessionTableFull,
    /// The session's real server was deleted.
    DestDeleted,
    /// The hand-off ring to the owner lcore was full.
    HandoffFull,
    /// The tx queue did not accept the packet.
    TxFull,
    /// Buffer pool exhausted.
    NoBuffer,
    /// The session's forwarding option is not supported (GRE with `--tun-remcsum`).
    FwdUnsupported,
    /// An ICMP error about a TCP/UDP flow that has no session here.
    IcmpNoSession,
    /// A packet without DF too big for the egress MTU once encapsulated (we do not fragment), or one
    /// with DF about which no ICMP error may be sent (an ICMP error, a non-unicast source).
    TunnelTooBig,
    /// Not enough headroom in the buffer for the encapsulation header.
    NoHeadroom,
    /// Frame longer than the receiving port's MTU plus the Ethernet header.
    EthOversized,
    /// Ethernet source MAC is multicast or broadcast.
    EthBadSource,
    /// IPv4 header with options (IHL > 5): not load balanced, not answered (as katran).
    Ipv4Options,
    /// Martian IPv4 source: 0.0.0.0/8, 127.0.0.0/8, multicast, limited broadcast, a connected
    /// subnet's broadcast address, or one of our own addresses (port address, VIP, local address).
    Ipv4BadSource,
    /// IPv4 unicast packet in a frame not addressed to the port's own MAC (broadcast/multicast).
    Ipv4NotUnicast,
    /// TCP flag combination no endpoint sends (SYN+FIN, SYN+RST, no flags, FIN/PSH/URG without
    /// ACK...), per the netfilter conntrack table.
    TcpBadFlags,
    /// TCP checksum wrong.
    TcpBadChecksum,
    /// UDP checksum wrong (a zero checksum means none and is accepted).
    UdpBadChecksum,
    /// ARP sender MAC multicast/broadcast/zero, or sender address broadcast/multicast.
    ArpBadSender,
    /// ARP whose sender claims one of our addresses (port address, VIP, local address): never learnt.
    ArpAddressConflict,
    /// ARP whose sender address is outside every subnet of the receiving port: never learnt.
    ArpWrongSubnet,
    /// A new connection refused by the service's allow/deny lists.
    AclDenied,
    /// A new connection refused by the service's connection limit.
    ConnLimit,
    /// A fragment overlapping another fragment of its datagram (the whole datagram is dropped: its
    /// held and later fragments too).
    FragOverlap,
    /// An exact repeat of a fragment already seen (dropped alone).
    FragDuplicate,
    /// RFC 1858 tiny fragment: a first fragment too short to hold the whole TCP/UDP header (the
    /// whole datagram is dropped).
    FragTiny,
    /// RFC 1858: a TCP fragment at offset 8 bytes, which could only rewrite the header's flags (the
    /// whole datagram is dropped).
    FragOffsetOne,
    /// More fragments in one datagram than the tracker allows (the whole datagram is dropped).
    FragTooMany,
    /// A fragment no sender emits: empty, not the last and not a multiple of 8 bytes, ending beyond
    /// 65,535 bytes, or disagreeing about where the datagram ends (the whole datagram is dropped).
    FragMalformed,
    /// A fragment that must wait for its datagram's first fragment and finds the hold limit (per
    /// datagram or per lcore) reached (the whole datagram is dropped).
    FragHoldFull,
    /// The fragment tracker has no free entry for a new datagram.
    FragTableFull,
    /// A held fragment whose datagram's first fragment did not come in time.
    FragTimeout,
    /// An ACK without session whose SYN cookie is forged or expired, while the SYN proxy has cookies
    /// out.
    SynproxyBadCookie,
    /// A segment the SYN proxy does not accept in its session's state: a client SYN inside a live
    /// proxied connection, a real-server segment other than SYN-ACK or RST before its SYN-ACK.
    SynproxyUnexpected,
    /// A client packet of a proxied connection waiting for its real server, beyond the hold store's
    /// bounds (per session or per lcore).
    SynproxyHoldFull,
    /// A held packet of a proxied connection whose real server did not answer in time.
    SynproxyHoldExpired,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 51] = [
        DropReason::EthTruncated,
        DropReason::EthUnsupported,
        DropReason::ArpMalformed,
        DropReason::Ipv4Malformed,
        DropReason::Ipv4BadChecksum,
        DropReason::Ipv4Fragment,
        DropReason::Ipv4TtlExpired,
        DropReason::TcpMalformed,
        DropReason::UdpMalformed,
        DropReason::IcmpMalformed,
        DropReason::NoRoute,
        DropReason::NeighUnresolved,
        DropReason::NotForUs,
        DropReason::NoSession,
        DropReason::NoDest,
        DropReason::NoLocalPort,
        DropReason::SessionTableFull,
        DropReason::DestDeleted,
        DropReason::HandoffFull,
        DropReason::TxFull,
        DropReason::NoBuffer,
        DropReason::FwdUnsupported,
        DropReason::IcmpNoSession,
        DropReason::TunnelTooBig,
        DropReason::NoHeadroom,
        DropReason::EthOversized,
        DropReason::EthBadSource,
        DropReason::Ipv4Options,
        DropReason::Ipv4BadSource,
        DropReason::Ipv4NotUnicast,
        DropReason::TcpBadFlags,
        DropReason::TcpBadChecksum,
        DropReason::UdpBadChecksum,
        DropReason::ArpBadSender,
        DropReason::ArpAddressConflict,
        DropReason::ArpWrongSubnet,
        DropReason::AclDenied,
        DropReason::ConnLimit,
        DropReason::FragOverlap,
        DropReason::FragDuplicate,
        DropReason::FragTiny,
        DropReason::FragOffsetOne,
        DropReason::FragTooMany,
        DropReason::FragMalformed,
        DropReason::FragHoldFull,
        DropReason::FragTableFull,
        DropReason::FragTimeout,
        DropReason::SynproxyBadCookie,
        DropReason::SynproxyUnexpected,
        DropReason::SynproxyHoldFull,
        DropReason::SynproxyHoldExpired,
    ];

    /// The counter's stable name.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::EthTruncated => "eth_truncated",
            DropReason::EthUnsupported => "eth_unsupported",
            DropReason::ArpMalformed => "arp_malformed",
            DropReason::Ipv4Malformed => "ipv4_malformed",
            DropReason::Ipv4BadChecksum => "ipv4_bad_checksum",
            DropReason::Ipv4Fragment => "ipv4_fragment",
            DropReason::Ipv4TtlExpired => "ipv4_ttl_expired",
            DropReason::TcpMalformed => "tcp_malformed",
            DropReason::UdpMalformed => "udp_malformed",
            DropReason::IcmpMalformed => "icmp_malformed",
            DropReason::NoRoute => "no_route",
            DropReason::NeighUnresolved => "neigh_unresolved",
            DropReason::NotForUs => "not_for_us",
            DropReason::NoSession => "no_session",
            DropReason::NoDest => "no_dest",
            DropReason::NoLocalPort => "no_local_port",
            DropReason::SessionTableFull => "session_table_full",
            DropReason::DestDeleted => "dest_deleted",
            DropReason::HandoffFull => "handoff_full",
            DropReason::TxFull => "tx_full",
            DropReason::NoBuffer => "no_buffer",
            DropReason::FwdUnsupported => "fwd_unsupported",
            DropReason::IcmpNoSession => "icmp_no_session",
            DropReason::TunnelTooBig => "tunnel_too_big",
            DropReason::NoHeadroom => "no_headroom",
            DropReason::EthOversized => "eth_oversized",
            DropReason::EthBadSource => "eth_bad_source",
            DropReason::Ipv4Options => "ipv4_options",
            DropReason::Ipv4BadSource => "ipv4_bad_source",
            DropReason::Ipv4NotUnicast => "ipv4_not_unicast",
            DropReason::TcpBadFlags => "tcp_bad_flags",
            DropReason::TcpBadChecksum => "tcp_bad_checksum",
            DropReason::UdpBadChecksum => "udp_bad_checksum",
            DropReason::ArpBadSender => "arp_bad_sender",
            DropReason::ArpAddressConflict => "arp_address_conflict",
            DropReason::ArpWrongSubnet => "arp_wrong_subnet",
            DropReason::AclDenied => "acl_denied",
            DropReason::ConnLimit => "conn_limit",
            DropReason::FragOverlap => "frag_overlap",
            DropReason::FragDuplicate => "frag_duplicate",
            DropReason::FragTiny => "frag_tiny",
            DropReason::FragOffsetOne => "frag_offset_one",
            DropReason::FragTooMany => "frag_too_many",
            DropReason::FragMalformed => "frag_malformed",
            DropReason::FragHoldFull => "frag_hold_full",
            DropReason::FragTableFull => "frag_table_full",
            DropReason::FragTimeout => "frag_timeout",
            DropReason::SynproxyBadCookie => "synproxy_bad_cookie",
            DropReason::SynproxyUnexpected => "synproxy_unexpected",
            DropReason::SynproxyHoldFull => "synproxy_hold_full",
            DropReason::SynproxyHoldExpired => "synproxy_hold_expired",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_discriminant_order_and_names_unique() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(*r as usize, i);
        }
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
    }
}
