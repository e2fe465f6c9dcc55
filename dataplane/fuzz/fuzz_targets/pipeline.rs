//! Fuzz the whole worker pipeline with the driver shared with the `fuzz_regressions` test
//! (dataplane/tests/fuzz_driver): arbitrary frames on the three ports of a worker with NAT and
//! FULLNAT services; no panic, and every emitted frame parses cleanly with etherparse.
//! Crash inputs go to dataplane/fuzz/regressions/pipeline/, which `make test` replays.
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/fuzz_driver/mod.rs"]
mod fuzz_driver;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    fuzz_driver::run(data);
});
