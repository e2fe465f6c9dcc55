//! Fuzz the control-protocol decoder: the body lives in
//! dataplane/tests/fuzz_bodies/control_frame.rs, shared with the `fuzz_regressions` test, which
//! replays dataplane/fuzz/regressions/control_frame/ in `make test`.
#![no_main]

#[path = "../../tests/fuzz_bodies/control_frame.rs"]
mod control_frame;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    control_frame::run(data);
});
