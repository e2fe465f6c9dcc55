//! Fuzz the config loader: the body lives in dataplane/tests/fuzz_bodies/config.rs, shared with
//! the `fuzz_regressions` test, which replays dataplane/fuzz/regressions/config/ in `make test`.
#![no_main]

#[path = "../../tests/fuzz_bodies/config.rs"]
mod config;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    config::run(data);
});
