//! rvsd configuration: the raw TOML schema and its validation into typed config.
#![forbid(unsafe_code)]
