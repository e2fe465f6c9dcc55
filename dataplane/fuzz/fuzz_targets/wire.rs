//! Fuzz every packet view of `rvs_dataplane::wire`: the body lives in
//! dataplane/tests/fuzz_bodies/wire.rs, shared with the `fuzz_regressions` test, which replays
//! dataplane/fuzz/regressions/wire/ in `make test`.
#![no_main]

#[path = "../../tests/fuzz_bodies/wire.rs"]
mod wire;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wire::run(data);
});
