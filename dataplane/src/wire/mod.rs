//! Typed zero-copy views over packet bytes.
//!
//! Contract (as smoltcp's): a view wraps `T: AsRef<[u8]>`; untrusted bytes enter only through
//! `new_checked`, which verifies every length the accessors rely on, so no accessor can panic
//! afterwards. Fields are read by offset with `from_be_bytes`; nothing is ever cast over buffer memory.
//! Getters live in an `impl` bounded by `AsRef<[u8]>`, setters in one bounded by `AsMut<[u8]>`.

/// A view could not be built over the given bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the header (or a length field) requires.
    #[error("truncated")]
    Truncated,
    /// A field holds a value the protocol forbids (IHL < 5, data offset < 5, ...).
    #[error("malformed")]
    Malformed,
}
pub mod arp;
pub mod ethernet;
pub mod icmp;

pub mod ipv4;
pub mod tcp;
pub mod udp;
