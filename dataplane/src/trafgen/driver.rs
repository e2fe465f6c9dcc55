//! One polling loop over rvs-gen's two ports: port 0 carries the [`Client`], port 1 the
//! [`Responder`].
//!
//! Each [`Driver::poll`]: resolve the VIP if needed (an ARP request every 100 ms), one rx burst per
//! port through its handler, new traffic within the pacer's allowance and the count bound, a
//! bounded timeout scan, and a tx flush per port. Frames a full tx ring refuses stay queued for the
//! next poll (the generator does not add to a backlog of [`BURST`] or more); past [`MAX_BACKLOG`]
//! they are freed and counted. Nothing here sleeps or spins: the caller bounds the loop in time.

use std::net::Ipv4Addr;

use super::client::Client;
use super::responder::{Reply, Responder};
use super::Pacer;
use crate::port::{WorkerIo, BURST};

/// Most frames waiting for a port's tx ring; beyond this they are freed and counted.
pub const MAX_BACKLOG: usize = 4096;
/// Timeout checks per poll.
pub const EXPIRE_BUDGET: usize = 64;
/// Most addresses of each side [`Driver::announce`] announces.
pub const MAX_ANNOUNCE: u32 = 256;
const ARP_RETRY_NS: u64 = 100_000_000;

/// Per-port frame counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// Frames received.
    pub rx: u64,
    /// Frames the tx ring took.
    pub tx: u64,
    /// Frames freed unsent (backlog full).
    pub tx_dropped: u64,
}

/// The loop's state (see the module doc).
#[derive(Debug)]
pub struct Driver<IO: WorkerIo> {
    io: IO,
    /// The client side (port 0).
    pub client: Client,
    /// The responder (port 1).
    pub responder: Responder,
    rx: Vec<IO::Buf>,
    tx: [Vec<IO::Buf>; 2],
    pacer: Pacer,
    limit: u64,
    sending: bool,
    last_arp_ns: Option<u64>,
    ports: [PortCounters; 2],
}

impl<IO: WorkerIo> Driver<IO> {
    /// A driver over `io` (port 0: client, port 1: responder), not sending yet.
    pub fn new(io: IO, client: Client, responder: Responder) -> Self {
        Driver {
            io,
            client,
            responder,
            rx: Vec::with_capacity(BURST),
            tx: [
                Vec::with_capacity(MAX_BACKLOG + 2 * BURST),
                Vec::with_capacity(MAX_BACKLOG + 2 * BURST),
            ],
            pacer: Pacer::new(0, 0),
            limit: 0,
            sending: false,
            last_arp_ns: None,
            ports: [PortCounters::default(); 2],
        }
    }

    /// The port I/O.
    pub fn io(&self) -> &IO {
        &self.io
    }

    /// The port I/O, writable (tests move frames through it).
    pub fn io_mut(&mut self) -> &mut IO {
        &mut self.io
    }

    /// Counters of port 0 (client) and 1 (responder).
    pub fn ports(&self) -> [PortCounters; 2] {
        self.ports
    }

    /// Announce the client and server addresses to the balancer (ARP requests for the VIP from
    /// each client address, for `lb_server_side` from each server address; at most
    /// [`MAX_ANNOUNCE`] of each), so that no first packet waits for, or is lost to, a neighbour
    /// resolution. Call before [`Driver::start`] and poll a little while the answers come back.
    pub fn announce(&mut self, lb_server_side: Ipv4Addr) {
        for i in 0..MAX_ANNOUNCE {
            let Some(mut b) = self.io.alloc() else { break };
            if !self.client.announce(i, &mut b) {
                break;
            }
            self.tx[0].push(b);
        }
        for i in 0..MAX_ANNOUNCE {
            let Some(mut b) = self.io.alloc() else { break };
            if !self.responder.announce(i, lb_server_side, &mut b) {
                break;
            }
            self.tx[1].push(b);
        }
        self.flush();
    }

    /// Start sending at `now_ns`: `rate` per second (0 = as fast as the ports take it), at most
    /// `limit` connections, datagrams or SYNs in all (0 = no bound).
    pub fn start(&mut self, now_ns: u64, rate: u64, limit: u64) {
        self.pacer = Pacer::new(rate, now_ns);
        self.limit = limit;
        self.sending = true;
    }

    /// Stop starting new traffic (replies and open connections go on).
    pub fn stop_sending(&mut self) {
        self.sending = false;
    }

    /// Whether the count bound is reached (or the tuples ran out).
    pub fn done_sending(&self) -> bool {
        (self.limit > 0 && self.client.sent() >= self.limit) || self.client.exhausted()
    }

    /// Time out every open connection now (end of a run); returns how many.
    pub fn expire_all(&mut self, now_ns: u64) -> usize {
        let n = self
            .client
            .expire(now_ns, usize::MAX, true, &mut self.io, &mut self.tx[0]);
        self.flush();
        n
    }

    /// One iteration (see the module doc); returns the frames received and built.
    pub fn poll(&mut self, now_ns: u64) -> usize {
        let mut work = 0;
        let arp_due = match self.last_arp_ns {
            None => true,
            Some(t) => now_ns.saturating_sub(t) >= ARP_RETRY_NS,
        };
        if self.client.peer().is_none() && arp_due {
            self.last_arp_ns = Some(now_ns);
            if let Some(mut b) = self.io.alloc() {
                if self.client.arp_for_vip(&mut b) {
                    self.tx[0].push(b);
                }
            }
        }
        // Client port.
        let n = self.io.rx_burst(0, &mut self.rx);
        self.ports[0].rx += n as u64;
        work += n;
        for b in self.rx.drain(..) {
            self.client.handle(now_ns, b, &mut self.io, &mut self.tx[0]);
        }
        // Responder port.
        let n = self.io.rx_burst(1, &mut self.rx);
        self.ports[1].rx += n as u64;
        work += n;
        for mut b in self.rx.drain(..) {
            if self.responder.handle(&mut b) == Reply::Send {
                self.tx[1].push(b);
            }
        }
        // New traffic.
        if self.sending && self.tx[0].len() < BURST && !self.done_sending() {
            let left = if self.limit == 0 {
                u64::MAX
            } else {
                self.limit - self.client.sent()
            };
            let max = self.pacer.allowance(now_ns, (BURST as u64).min(left));
            if max > 0 {
                let n = self
                    .client
                    .generate(now_ns, max, &mut self.io, &mut self.tx[0]);
                self.pacer.sent(n);
                work += n as usize;
            }
        }
        self.client
            .expire(now_ns, EXPIRE_BUDGET, false, &mut self.io, &mut self.tx[0]);
        self.flush();
        work
    }

    fn flush(&mut self) {
        for (port, q) in self.tx.iter_mut().enumerate() {
            if q.is_empty() {
                continue;
            }
            // At most a few bursts per poll; what is left waits for the next one.
            for _ in 0..4 {
                let sent = self.io.tx_burst(port as u16, q);
                self.ports[port].tx += sent as u64;
                if sent == 0 || q.is_empty() {
                    break;
                }
            }
            if q.len() > MAX_BACKLOG {
                let extra = q.len() - MAX_BACKLOG;
                self.ports[port].tx_dropped += extra as u64;
                q.truncate(MAX_BACKLOG);
            }
        }
    }
}
