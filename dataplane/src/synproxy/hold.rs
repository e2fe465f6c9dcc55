//! Packets a client sends on a proxied connection before its real server has answered the proxy's SYN:
//! held in a fixed-size per-lcore store until the real server's SYN-ACK arrives, then re-injected.
//!
//! The store belongs to the worker (it holds buffers, which the load balancer never owns). Bounds:
//! at most [`HOLD_PER_SESSION`] packets per session and [`HOLD_CAPACITY`] per lcore; a packet beyond
//! either bound, or held longer than [`HOLD_TIMEOUT_MS`], is dropped by the caller and counted
//! (`drop.synproxy_hold_full`, `drop.synproxy_hold_expired`). Entries are keyed by the session's
//! slot; a released packet is processed again from its own headers, so a stale entry (its session
//! gone and the slot reused) can never be sent on another connection's transform.
//!
//! Nothing here allocates after [`HoldQueue::new`]: the entries live in a preallocated `Vec` that
//! never grows, scanned linearly (a few hundred entries, and only when a packet is held or released).

/// Most packets held per session (the proxy's SYN-ACK advertises a window of this many segments).
pub const HOLD_PER_SESSION: usize = 8;
/// Most packets held per lcore.
pub const HOLD_CAPACITY: usize = 256;
/// A packet held longer than this is dropped (its client retransmits it).
pub const HOLD_TIMEOUT_MS: u64 = 3000;

#[derive(Debug)]
struct Held<B> {
    key: u32,
    since_ms: u64,
    buf: B,
}

/// The held packets of one lcore, in arrival order.
#[derive(Debug)]
pub struct HoldQueue<B> {
    entries: Vec<Held<B>>,
    capacity: usize,
}

impl<B> HoldQueue<B> {
    /// An empty store of at most `capacity` packets.
    pub fn new(capacity: usize) -> Self {
        HoldQueue {
            entries: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Packets held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Hold `buf` for session slot `key` since `now_ms`.
    ///
    /// # Errors
    /// The buffer is handed back when the store or the session's share of it is full.
    pub fn push(&mut self, key: u32, buf: B, now_ms: u64) -> Result<(), B> {
        if self.entries.len() >= self.capacity
            || self.entries.iter().filter(|h| h.key == key).count() >= HOLD_PER_SESSION
        {
            return Err(buf);
        }
        self.entries.push(Held {
            key,
            since_ms: now_ms,
            buf,
        });
        Ok(())
    }

    /// Move the packets held for `key` into `out`, oldest first.
    pub fn take(&mut self, key: u32, out: &mut Vec<B>) {
        let mut i = 0;
        while i < self.entries.len() {
            if self.entries[i].key == key {
                out.push(self.entries.remove(i).buf);
            } else {
                i += 1;
            }
        }
    }

    /// Remove the packets held for longer than [`HOLD_TIMEOUT_MS`] at `now_ms`; returns how many
    /// (their buffers are dropped, which frees them).
    pub fn expire(&mut self, now_ms: u64) -> usize {
        let before = self.entries.len();
        self.entries
            .retain(|h| now_ms.saturating_sub(h.since_ms) < HOLD_TIMEOUT_MS);
        before - self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_per_session_and_per_lcore_released_in_order() {
        let mut q = HoldQueue::new(10);
        for i in 0..HOLD_PER_SESSION as u32 {
            assert!(q.push(7, i, 100).is_ok());
        }
        assert_eq!(q.push(7, 99, 100), Err(99));
        assert!(q.push(8, 100, 200).is_ok());
        assert!(q.push(9, 101, 200).is_ok());
        assert_eq!(q.push(10, 102, 200), Err(102), "lcore store full");
        let mut out = Vec::new();
        q.take(7, &mut out);
        assert_eq!(out, (0..HOLD_PER_SESSION as u32).collect::<Vec<_>>());
        assert_eq!(q.len(), 2);
        out.clear();
        q.take(7, &mut out);
        assert!(out.is_empty());
        // Expiry: nothing before the timeout, both at it.
        assert_eq!(q.expire(200 + HOLD_TIMEOUT_MS - 1), 0);
        assert_eq!(q.expire(200 + HOLD_TIMEOUT_MS), 2);
        assert!(q.is_empty());
    }
}
