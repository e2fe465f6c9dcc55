//! Body of the `config` fuzz target: `rvs_config::from_str` on arbitrary UTF-8 must return a config
//! or a typed error, never panic; an error must format. The origin names a directory that does not
//! exist, so a relative `rules_file` cannot reach real files.

/// What one input reached: `None` for bytes that are not UTF-8 (the loader only takes text),
/// `Some(true)` for a config that validated, `Some(false)` for a typed error.
pub fn run(data: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(data).ok()?;
    match rvs_config::from_str(text, "/nonexistent-rvs-fuzz/rvs.toml") {
        Ok(_) => Some(true),
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error formats to some text");
            Some(false)
        }
    }
}
