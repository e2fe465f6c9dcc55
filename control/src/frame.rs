//! Framing of the control protocol.
//!
//! A frame is `u32 BE length | u32 BE API_VERSION | JSON payload`, where `length` counts the bytes after
//! the length field (the 4 version bytes plus the payload). A frame is at most [`MAX_FRAME`] bytes after
//! the length field. Readers check the length before allocating and the version before decoding, so
//! garbage costs at most one bounded read and never a panic.
//!
//! Why JSON: the protocol is tiny, rarely used and debugged with `socat`; serde_json is already in the
//! workspace. Why a version in every frame: an old rvsadm talking to a new rvsd must get a clear
//! [`ApiError::Version`](crate::proto::ApiError::Version) instead of a confusing decode error.

use crate::proto::{Reply, Request, API_VERSION};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{self, Read, Write};

/// The largest accepted value of the length field (version plus payload), 1 MiB.
pub const MAX_FRAME: usize = 1 << 20;

/// Size of the length field plus the version field.
pub const HEADER_LEN: usize = 8;

/// Why a frame could not be read, written or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The underlying stream failed (includes timeouts).
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The peer closed the stream before the first byte of a frame.
    #[error("connection closed")]
    Closed,
    /// The peer closed the stream in the middle of a frame.
    #[error("truncated frame: expected {expected} bytes, got {got}")]
    Truncated {
        /// Bytes the frame announced (or the header size).
        expected: usize,
        /// Bytes actually available.
        got: usize,
    },
    /// The length field is larger than [`MAX_FRAME`].
    #[error("frame too large: {len} bytes (max {MAX_FRAME})")]
    TooLarge {
        /// The announced length.
        len: usize,
    },
    /// The length field is smaller than the version field.
    #[error("frame too short: length {len}")]
    TooShort {
        /// The announced length.
        len: usize,
    },
    /// The frame carries another protocol version.
    #[error("protocol version {got}, expected {expected}")]
    Version {
        /// Our [`API_VERSION`].
        expected: u32,
        /// The frame's version.
        got: u32,
    },
    /// The payload is not valid JSON for the expected type.
    #[error("bad payload: {0}")]
    Json(String),
}

/// Encodes `msg` as one complete frame (header included).
///
/// # Errors
/// [`FrameError::Json`] if serialisation fails, [`FrameError::TooLarge`] if the payload exceeds the limit.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    encode_with_version(msg, API_VERSION)
}

/// Like [`encode`] with an explicit version (tests use it to forge wrong-version frames).
///
/// # Errors
/// As [`encode`].
pub fn encode_with_version<T: Serialize>(msg: &T, version: u32) -> Result<Vec<u8>, FrameError> {
    let payload = serde_json::to_vec(msg).map_err(|e| FrameError::Json(e.to_string()))?;
    let len = payload.len() + 4;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge { len });
    }
    let len32 = u32::try_from(len).map_err(|_| FrameError::TooLarge { len })?;
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&len32.to_be_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Checks the 8-byte header: returns the payload length.
///
/// # Errors
/// [`FrameError::TooShort`], [`FrameError::TooLarge`] for a bad length; [`FrameError::Version`] for a
/// version other than [`API_VERSION`]. The length is checked first.
pub fn check_header(header: [u8; HEADER_LEN]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len < 4 {
        return Err(FrameError::TooShort { len });
    }
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge { len });
    }
    let got = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    if got != API_VERSION {
        return Err(FrameError::Version {
            expected: API_VERSION,
            got,
        });
    }
    Ok(len - 4)
}

/// Decodes one complete frame held in `bytes` (header included, nothing after it).
///
/// # Errors
/// Any [`FrameError`] but `Io`/`Closed`; never panics, whatever the bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FrameError> {
    let Some(header) = bytes.get(..HEADER_LEN) else {
        return Err(FrameError::Truncated {
            expected: HEADER_LEN,
            got: bytes.len(),
        });
    };
    let mut h = [0u8; HEADER_LEN];
    h.copy_from_slice(header);
    let payload_len = check_header(h)?;
    let payload = &bytes[HEADER_LEN..];
    if payload.len() != payload_len {
        return Err(FrameError::Truncated {
            expected: payload_len,
            got: payload.len(),
        });
    }
    decode_payload(payload)
}

/// Decodes a payload whose header was already checked.
///
/// # Errors
/// [`FrameError::Json`].
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    serde_json::from_slice(payload).map_err(|e| FrameError::Json(e.to_string()))
}

/// Reads exactly `buf.len()` bytes; `Ok(n < len)` when the stream ends early.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    Ok(got)
}

/// Reads one frame's payload from a stream, checking length and version before reading the payload.
///
/// # Errors
/// [`FrameError::Closed`] on a clean end of stream before the frame, [`FrameError::Truncated`] on a short
/// one, header errors from [`check_header`] (the payload is then left unread), `Io` on timeouts.
pub fn read_payload(r: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    let mut header = [0u8; HEADER_LEN];
    let got = read_full(r, &mut header)?;
    if got == 0 {
        return Err(FrameError::Closed);
    }
    if got < HEADER_LEN {
        return Err(FrameError::Truncated {
            expected: HEADER_LEN,
            got,
        });
    }
    let len = check_header(header)?;
    let mut payload = vec![0u8; len];
    let got = read_full(r, &mut payload)?;
    if got < len {
        return Err(FrameError::Truncated { expected: len, got });
    }
    Ok(payload)
}

/// Reads and decodes one frame from a stream.
///
/// # Errors
/// As [`read_payload`] and [`decode_payload`].
pub fn read_msg<T: DeserializeOwned>(r: &mut impl Read) -> Result<T, FrameError> {
    let payload = read_payload(r)?;
    decode_payload(&payload)
}

/// Encodes and writes one frame, then flushes.
///
/// # Errors
/// As [`encode`], or `Io`.
pub fn write_msg<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<(), FrameError> {
    let bytes = encode(msg)?;
    w.write_all(&bytes)?;
    w.flush()?;
    Ok(())
}

/// Encodes a request frame.
///
/// # Errors
/// As [`encode`].
pub fn encode_request(req: &Request) -> Result<Vec<u8>, FrameError> {
    encode(req)
}

/// Decodes a request frame.
///
/// # Errors
/// As [`decode`].
pub fn decode_request(bytes: &[u8]) -> Result<Request, FrameError> {
    decode(bytes)
}

/// Encodes a reply frame.
///
/// # Errors
/// As [`encode`].
pub fn encode_reply(reply: &Reply) -> Result<Vec<u8>, FrameError> {
    encode(reply)
}

/// Decodes a reply frame.
///
/// # Errors
/// As [`decode`].
pub fn decode_reply(bytes: &[u8]) -> Result<Reply, FrameError> {
    decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::*;
    use proptest::prelude::*;
    use std::net::{IpAddr, Ipv4Addr};

    fn key() -> ServiceKey {
        ServiceKey {
            proto: Protocol::Tcp,
            addr: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            port: 80,
        }
    }

    #[test]
    fn header_layout_is_length_version_json() {
        let bytes = encode_request(&Request::Flush).unwrap();
        assert_eq!(&bytes[8..], b"\"Flush\"");
        assert_eq!(&bytes[0..4], &(4u32 + 7).to_be_bytes());
        assert_eq!(&bytes[4..8], &API_VERSION.to_be_bytes());
    }

    #[test]
    fn round_trip_request_and_reply() {
        let reqs = vec![
            Request::Flush,
            Request::DelService(key()),
            Request::GetServices(None),
            Request::SetTimeouts(Timeouts {
                tcp: 1,
                tcp_fin: 0,
                udp: 3,
            }),
            Request::DelDest(key(), IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)), 8080),
        ];
        for r in reqs {
            let b = encode_request(&r).unwrap();
            assert_eq!(decode_request(&b).unwrap(), r);
            let mut cur = std::io::Cursor::new(b);
            assert_eq!(read_msg::<Request>(&mut cur).unwrap(), r);
        }
        let replies: Vec<Reply> = vec![
            Ok(Response::Ok),
            Err(ApiError::NoSuchService),
            Err(ApiError::Version {
                expected: 1,
                got: 7,
            }),
        ];
        for r in replies {
            let b = encode_reply(&r).unwrap();
            assert_eq!(decode_reply(&b).unwrap(), r);
        }
    }

    #[test]
    fn wrong_version_is_refused_before_decoding() {
        let b = encode_with_version(&Request::Flush, 99).unwrap();
        match decode_request(&b) {
            Err(FrameError::Version { expected, got }) => {
                assert_eq!((expected, got), (API_VERSION, 99));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_and_short_lengths_are_refused() {
        let mut h = [0u8; 8];
        h[..4].copy_from_slice(&((MAX_FRAME as u32) + 1).to_be_bytes());
        h[4..].copy_from_slice(&API_VERSION.to_be_bytes());
        assert!(matches!(check_header(h), Err(FrameError::TooLarge { .. })));
        h[..4].copy_from_slice(&3u32.to_be_bytes());
        assert!(matches!(
            check_header(h),
            Err(FrameError::TooShort { len: 3 })
        ));
        // The stream reader must not try to read (or allocate) an oversized body.
        let mut h2 = vec![0xff, 0xff, 0xff, 0xff];
        h2.extend_from_slice(&API_VERSION.to_be_bytes());
        let mut cur = std::io::Cursor::new(h2);
        assert!(matches!(
            read_payload(&mut cur),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn closed_and_truncated_streams() {
        let mut empty = std::io::Cursor::new(Vec::<u8>::new());
        assert!(matches!(read_payload(&mut empty), Err(FrameError::Closed)));
        let b = encode_request(&Request::Flush).unwrap();
        let mut cut = std::io::Cursor::new(b[..b.len() - 1].to_vec());
        assert!(matches!(
            read_payload(&mut cut),
            Err(FrameError::Truncated { .. })
        ));
        let mut cut = std::io::Cursor::new(b[..3].to_vec());
        assert!(matches!(
            read_payload(&mut cut),
            Err(FrameError::Truncated { .. })
        ));
    }

    proptest! {
        #[test]
        fn decoding_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_request(&bytes);
            let _ = decode_reply(&bytes);
            let mut cur = std::io::Cursor::new(bytes);
            let _ = read_msg::<Request>(&mut cur);
        }

        #[test]
        fn valid_header_garbage_payload_never_panics(payload in proptest::collection::vec(any::<u8>(), 0..128)) {
            let mut b = Vec::new();
            b.extend_from_slice(&((payload.len() + 4) as u32).to_be_bytes());
            b.extend_from_slice(&API_VERSION.to_be_bytes());
            b.extend_from_slice(&payload);
            let _ = decode_request(&b);
            let _ = decode_reply(&b);
        }

        #[test]
        fn ports_and_timeouts_round_trip(port in any::<u16>(), a in any::<u32>(), t in any::<u32>()) {
            let k = ServiceKey { proto: Protocol::Udp, addr: IpAddr::V4(Ipv4Addr::from(a)), port };
            let r = Request::Zero(Some(k));
            prop_assert_eq!(decode_request(&encode_request(&r).unwrap()).unwrap(), r);
            let r = Request::SetTimeouts(Timeouts { tcp: t, tcp_fin: t / 2, udp: 7 });
            prop_assert_eq!(decode_request(&encode_request(&r).unwrap()).unwrap(), r);
        }
    }
}
