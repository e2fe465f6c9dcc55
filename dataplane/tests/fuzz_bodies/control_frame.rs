//! Body of the `control_frame` fuzz target: arbitrary bytes as one whole frame (`decode_request`,
//! `decode_reply`), as a header (`check_header`), and as a stream (`read_msg`). Nothing may panic,
//! and a request that decodes must encode and decode back to itself.

use rvs_control::frame;
use rvs_control::proto::{Reply, Request};

/// Which decoders accepted the input (tests use it to see that the saved inputs reach past the
/// header checks).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// `decode_request` returned a request (and it round-tripped).
    pub request: bool,
    /// `decode_reply` returned a reply.
    pub reply: bool,
    /// `check_header` accepted the first 8 bytes.
    pub header: bool,
}

/// Run one input through every decoder; panics on a broken invariant.
pub fn run(data: &[u8]) -> Decoded {
    let mut out = Decoded::default();
    if let Ok(req) = frame::decode_request(data) {
        let bytes = frame::encode_request(&req).expect("a decoded request encodes");
        assert_eq!(frame::decode_request(&bytes).expect("round trip"), req);
        out.request = true;
    }
    out.reply = frame::decode_reply(data).is_ok();
    if let Some(h) = data.get(..frame::HEADER_LEN) {
        let mut header = [0u8; frame::HEADER_LEN];
        header.copy_from_slice(h);
        out.header = frame::check_header(header).is_ok();
    }
    let _ = frame::read_msg::<Request>(&mut std::io::Cursor::new(data));
    let _ = frame::read_msg::<Reply>(&mut std::io::Cursor::new(data));
    out
}
