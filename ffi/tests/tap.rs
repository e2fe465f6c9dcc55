//! A net_tap port against the kernel, in a private network namespace this test process creates
//! (`unshare(CLONE_NEWNET)` before EAL init; the namespace and its TAP vanish with the process).
//!
//! Checks: multi-queue configure with RSS requested, link up, kernel -> DPDK frames (written with an
//! AF_PACKET socket on the kernel side), DPDK -> kernel frames with IPv4 and UDP checksum tx offload
//! (the kernel-side capture must see correct checksums although we sent zeros).

use std::os::raw::c_void;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvs_ffi::ethdev::flags;
use rvs_ffi::{Eal, EthConf, EthDev, L4Cksum, Mbuf, Mempool, TxOffload};

const IFACE: &str = "rvsfft0";
const ETHERTYPE_TEST: u16 = 0x88b5;

fn sum16(data: &[u8]) -> u32 {
    data.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// An AF_PACKET socket bound to `IFACE` (all protocols), with a receive timeout.
struct PacketSocket {
    fd: i32,
    ifindex: i32,
}

impl PacketSocket {
    fn open() -> PacketSocket {
        let name = std::ffi::CString::new(IFACE).unwrap();
        // SAFETY: name is a valid C string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) } as i32;
        assert!(ifindex > 0, "{IFACE} exists in our namespace");
        let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
        // SAFETY: plain socket creation.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto) };
        assert!(
            fd >= 0,
            "AF_PACKET socket: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: sockaddr_ll is plain data.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto as u16;
        sll.sll_ifindex = ifindex;
        // SAFETY: sll is a valid sockaddr_ll of the given size.
        let rc = unsafe {
            libc::bind(
                fd,
                std::ptr::from_ref(&sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 100_000,
        };
        // SAFETY: tv is a valid timeval of the given size.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                std::ptr::from_ref(&tv).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            )
        };
        assert_eq!(rc, 0);
        PacketSocket { fd, ifindex }
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: frame is valid for frame.len() bytes; the socket is bound to the interface.
        let n = unsafe { libc::send(self.fd, frame.as_ptr().cast::<c_void>(), frame.len(), 0) };
        assert_eq!(
            n,
            frame.len() as isize,
            "send: {}",
            std::io::Error::last_os_error()
        );
    }

    /// One frame, or None after the receive timeout.
    fn recv(&self) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 2048];
        // SAFETY: buf is valid for buf.len() bytes.
        let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast::<c_void>(), buf.len(), 0) };
        if n < 0 {
            return None;
        }
        buf.truncate(n as usize);
        Some(buf)
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: fd is our open socket.
        unsafe { libc::close(self.fd) };
    }
}

#[test]
fn tap_port_against_the_kernel() {
    // SAFETY: unshare only changes this thread's network namespace; EAL's threads are created by it later.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    if rc != 0 {
        eprintln!(
            "skipping: cannot create a network namespace: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    let prefix = format!("rvs-ffi-tap-test-{}", std::process::id());
    let vdev = format!("--vdev=net_tap0,iface={IFACE}");
    let args = [
        "-l",
        "0",
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--file-prefix",
        prefix.as_str(),
        "--log-level",
        "lib.eal:error",
        vdev.as_str(),
    ];
    let eal = Eal::init(&args).expect("EAL init");
    let pool = Arc::new(
        Mempool::new(
            &eal,
            "rvs_tap_pool",
            2047,
            0,
            Mempool::DEFAULT_DATA_ROOM,
            -1,
        )
        .unwrap(),
    );
    let port = EthDev::by_name(&eal, "net_tap0").unwrap();
    let info = port.info().unwrap();
    assert_eq!(info.driver_name, "net_tap");
    assert!(info.max_rx_queues >= 2);
    let applied = port
        .configure(&EthConf {
            n_rxq: 2,
            n_txq: 2,
            rss_hf: flags::RSS_IPV4_ALL,
            rx_offloads: 0,
            tx_offloads: flags::TX_OFFLOAD_IPV4_CKSUM
                | flags::TX_OFFLOAD_UDP_CKSUM
                | flags::TX_OFFLOAD_TCP_CKSUM,
            mtu: 1500,
        })
        .unwrap();
    eprintln!(
        "tap: applied {applied:?}, rss capa {:#x}",
        info.flow_type_rss_offloads
    );
    let mut rxq: Vec<_> = (0..2)
        .map(|q| port.rx_queue_setup(q, 512, &pool).unwrap())
        .collect();
    let mut txq: Vec<_> = (0..2)
        .map(|q| port.tx_queue_setup(q, 512).unwrap())
        .collect();
    port.start().unwrap();
    port.promiscuous_enable().unwrap();
    assert!(port.promiscuous());
    assert!(
        port.link().unwrap().up,
        "net_tap brings the kernel side up at start"
    );
    assert_eq!(port.mtu().unwrap(), 1500);
    let mac = port.mac_addr().unwrap();
    let sock = PacketSocket::open();
    assert!(sock.ifindex > 0);

    // Kernel -> DPDK.
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    frame.extend_from_slice(&ETHERTYPE_TEST.to_be_bytes());
    frame.extend((0..100u8).map(|i| i.wrapping_mul(3)));
    let before = port.stats().unwrap();
    sock.send(&frame);
    let mut got: Vec<Mbuf> = Vec::with_capacity(64);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut found = None;
    while found.is_none() && Instant::now() < deadline {
        for q in &mut rxq {
            q.rx_burst(&mut got);
        }
        found = got
            .iter()
            .position(|m| m.data().get(12..14) == Some(&ETHERTYPE_TEST.to_be_bytes()[..]));
        if found.is_none() {
            got.clear();
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let idx = found.expect("the kernel's frame arrives on an rx queue");
    assert_eq!(got[idx].data(), &frame[..]);
    got.clear();
    let after = port.stats().unwrap();
    assert!(after.ipackets > before.ipackets);
    assert!(after.ibytes >= before.ibytes + frame.len() as u64);

    // DPDK -> kernel, IPv4/UDP with zero checksums and tx offload.
    let payload = b"rvs tx offload check";
    let udp_len = 8 + payload.len();
    let ip_len = 20 + udp_len;
    let mut f = vec![0x02, 0, 0, 0, 0, 0x02];
    f.extend_from_slice(&mac);
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(&[
        0x45,
        0,
        (ip_len >> 8) as u8,
        ip_len as u8,
        0x12,
        0x34,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ]);
    f.extend_from_slice(&[10, 10, 0, 1, 10, 10, 0, 2]);
    f.extend_from_slice(&[
        0x30,
        0x39,
        0x23,
        0x28,
        (udp_len >> 8) as u8,
        udp_len as u8,
        0,
        0,
    ]);
    f.extend_from_slice(payload);
    let mut m = pool.alloc().unwrap();
    assert!(m.set_len(f.len()));
    m.data_mut().copy_from_slice(&f);
    let offload = applied.tx_offloads
        & (flags::TX_OFFLOAD_IPV4_CKSUM | flags::TX_OFFLOAD_UDP_CKSUM)
        == (flags::TX_OFFLOAD_IPV4_CKSUM | flags::TX_OFFLOAD_UDP_CKSUM);
    if offload {
        m.set_tx_offload(TxOffload {
            ipv4_cksum: true,
            l4: L4Cksum::Udp,
            l2_len: 14,
            l3_len: 20,
        });
    }
    let mut out = vec![m];
    assert_eq!(txq[1].tx_burst(&mut out), 1);
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut seen = None;
    while seen.is_none() && Instant::now() < deadline {
        if let Some(r) = sock.recv() {
            if r.len() == f.len() && r[12..14] == [0x08, 0x00] && r[34..38] == f[34..38] {
                seen = Some(r);
            }
        }
    }
    let r = seen.expect("the kernel sees our UDP frame");
    assert_eq!(&r[42..], payload);
    if offload {
        assert_eq!(
            fold(sum16(&r[14..34])),
            0xffff,
            "IPv4 header checksum filled by the port"
        );
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&r[26..34]);
        pseudo.extend_from_slice(&[0, 17, (udp_len >> 8) as u8, udp_len as u8]);
        let s = sum16(&pseudo) + sum16(&r[34..]);
        assert_ne!(&r[40..42], &[0, 0], "UDP checksum filled by the port");
        assert_eq!(fold(s), 0xffff, "UDP checksum correct");
    } else {
        eprintln!("tap: no IPv4+UDP tx checksum offload applied; checksum check skipped");
    }
    assert!(port.stats().unwrap().opackets >= 1);

    drop(rxq);
    drop(txq);
    port.close().unwrap();
    assert_eq!(pool.in_use(), 0, "closing the port returned every mbuf");
}
