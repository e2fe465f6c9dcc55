//! Fuzz the control-protocol decoder: arbitrary bytes as one whole frame (`decode_request`,
//! `decode_reply`), as a header (`check_header`), and as a stream (`read_msg`). Nothing may panic,
//! and a request that decodes must encode and decode back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rvs_control::frame;
use rvs_control::proto::{Reply, Request};

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = frame::decode_request(data) {
        let bytes = frame::encode_request(&req).expect("a decoded request encodes");
        assert_eq!(frame::decode_request(&bytes).expect("round trip"), req);
    }
    let _ = frame::decode_reply(data);
    if let Some(h) = data.get(..frame::HEADER_LEN) {
        let mut header = [0u8; frame::HEADER_LEN];
        header.copy_from_slice(h);
        let _ = frame::check_header(header);
    }
    let _ = frame::read_msg::<Request>(&mut std::io::Cursor::new(data));
    let _ = frame::read_msg::<Reply>(&mut std::io::Cursor::new(data));
});
