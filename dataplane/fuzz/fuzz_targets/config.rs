//! Fuzz the config loader: `rvs_config::from_str` on arbitrary UTF-8 must return a config or a typed
//! error, never panic. The origin names a directory that does not exist, so a relative `rules_file`
//! cannot reach real files.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = rvs_config::from_str(text, "/nonexistent-rvs-fuzz/rvs.toml") {
            let _ = e.to_string();
        }
    }
});
