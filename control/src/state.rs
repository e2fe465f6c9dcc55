//! rvsd's persisted rules: the state file written after every change and read back at start.
//!
//! Format: text, one rule per line in `rvsadm -S -n` syntax (so an operator can read it, diff it, or
//! feed it to `rvsadm -R`), between a header and a trailer:
//! ```text
//! # rvs state v1: rules saved by rvsd after every change (rvsadm -R syntax)
//! --set 900 120 300
//! -A -t 10.10.0.100:8990 -s rr
//! -a -t 10.10.0.100:8990 -r 10.10.1.2:8998 -m -w 1
//! # end: 3 rules
//! ```
//! The timeouts come first; then each service with its dests, local addresses, access-control entries
//! and connection limit, as `-S` writes them. The trailer counts the rule lines: a file without it,
//! or whose count differs, is refused as truncated ([`StateError::Truncated`]), so a file that was
//! not written completely can never be half-loaded.
//!
//! Writing is atomic ([`write_atomic`]): the text goes to a temporary file in the same directory,
//! which is fsynced, renamed over the state file, and the directory fsynced. A crash at any moment
//! leaves either the previous complete file or the new complete file (the temporary file of an
//! interrupted write is ignored and overwritten by the next write).
//!
//! What "never a mix" means: rvsd persists after each successful request, after it was applied and
//! published and before the client gets its answer. So after a crash the file holds the rules as they
//! were after the last request that was persisted: every request is either wholly in the file or not
//! at all. A `Batch` (what `rvsadm -R` sends, up to [`crate::ipvsadm::exec::RESTORE_BATCH`] lines per
//! batch) is persisted once, after all its lines: a restore of up to that many lines is therefore
//! all-or-nothing in the file; a longer restore is persisted batch by batch (a prefix of whole
//! batches).

use crate::ipvsadm::{self, format, names::NameDb, Command};
use crate::proto::{Request, ServiceInfo, Timeouts};
use std::io::Write;
use std::path::{Path, PathBuf};

/// First line of every state file.
pub const HEADER: &str =
    "# rvs state v1: rules saved by rvsd after every change (rvsadm -R syntax)";

/// Why a state file could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// An OS error on `path`.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The step that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Not a state file of this version (first line differs).
    #[error("{}: not an rvs state file (first line is not the v1 header)", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
    },
    /// The trailer is missing or counts another number of rules.
    #[error("{}: truncated: {found} rule lines, trailer {trailer}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Rule lines found.
        found: usize,
        /// What the trailer says (`missing` when there is none).
        trailer: String,
    },
    /// A line that does not parse as a rule.
    #[error("{}:{line}: {message}", path.display())]
    BadLine {
        /// The file.
        path: PathBuf,
        /// Line number (1-based).
        line: usize,
        /// The parser's message.
        message: String,
    },
}

/// The state file text for these services and timeouts.
pub fn render(services: &[ServiceInfo], timeouts: &Timeouts) -> String {
    let rules = format::save(services, true, &NameDb::empty());
    let n = 1 + rules.lines().count();
    format!(
        "{HEADER}\n--set {} {} {}\n{rules}# end: {n} rules\n",
        timeouts.tcp, timeouts.tcp_fin, timeouts.udp
    )
}

/// Parse a state file's text (`path` names it in errors) into the requests that rebuild its rules,
/// in order (apply them to an empty rule set).
///
/// # Errors
/// [`StateError::BadHeader`], [`StateError::Truncated`], [`StateError::BadLine`].
pub fn parse(text: &str, path: &Path) -> Result<Vec<Request>, StateError> {
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        return Err(StateError::BadHeader {
            path: path.to_path_buf(),
        });
    }
    let mut reqs = Vec::new();
    let mut trailer: Option<String> = None;
    for (i, line) in lines.enumerate() {
        let lineno = i + 2;
        if trailer.is_some() {
            if line.trim().is_empty() {
                continue;
            }
            return Err(StateError::BadLine {
                path: path.to_path_buf(),
                line: lineno,
                message: "text after the trailer".into(),
            });
        }
        if let Some(t) = line.strip_prefix("# end: ") {
            trailer = Some(t.to_string());
            continue;
        }
        let Some(words) = ipvsadm::exec::restore_words(line) else {
            continue;
        };
        let bad = |message: String| StateError::BadLine {
            path: path.to_path_buf(),
            line: lineno,
            message,
        };
        match ipvsadm::parse_restore_line("rvsd", &words, &NameDb::empty()) {
            Ok(Command::Apply(req)) => reqs.push(req),
            Ok(_) => return Err(bad("not a rule".into())),
            Err(e) => return Err(bad(e.message)),
        }
    }
    let expected = format!("{} rules", reqs.len());
    match trailer {
        Some(t) if t == expected => Ok(reqs),
        other => Err(StateError::Truncated {
            path: path.to_path_buf(),
            found: reqs.len(),
            trailer: other.unwrap_or_else(|| "missing".into()),
        }),
    }
}

/// Read the state file at `path`: `None` when there is none.
///
/// # Errors
/// As [`parse`], or [`StateError::Io`] when it exists but cannot be read.
pub fn load(path: &Path) -> Result<Option<Vec<Request>>, StateError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io {
            path: path.to_path_buf(),
            what: "read",
            source,
        }),
    }
}

/// The temporary file [`write_atomic`] uses for `path`: `.NAME.tmp` in the same directory.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

/// Replace the file at `path` by `text` atomically: write a temporary file in the same directory,
/// fsync it, rename it over `path`, fsync the directory. The directory must exist.
///
/// # Errors
/// [`StateError::Io`] naming the step that failed (the old file is then untouched).
pub fn write_atomic(path: &Path, text: &str) -> Result<(), StateError> {
    let tmp = temp_path(path);
    let io = |p: &Path, what: &'static str| {
        let p = p.to_path_buf();
        move |source| StateError::Io {
            path: p,
            what,
            source,
        }
    };
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp, "create"))?;
    f.write_all(text.as_bytes()).map_err(io(&tmp, "write"))?;
    f.sync_all().map_err(io(&tmp, "fsync"))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(io(path, "rename"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io(&dir, "fsync directory"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::*;

    fn services() -> Vec<ServiceInfo> {
        let key = ServiceKey {
            proto: Protocol::Tcp,
            addr: "10.10.0.100".parse().unwrap(),
            port: 8990,
        };
        let dest = DestSpec {
            addr: "10.10.1.2".parse().unwrap(),
            port: 8998,
            fwd: FwdMethod::FullNat,
            weight: 3,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunnelType::Ipip,
            tun_csum: TunnelCsum::NoCsum,
        };
        vec![ServiceInfo {
            spec: ServiceSpec {
                key,
                scheduler: "wrr".into(),
                persistent: Some(300),
                netmask_prefix: 24,
                sched_flags: 0,
                one_packet: false,
            },
            dests: vec![DestInfo {
                spec: dest,
                active_conns: 5,
                inactive_conns: 1,
                persist_conns: 0,
                stats: TrafficStats::default(),
                rates: RateStats::default(),
            }],
            laddrs: vec!["10.10.9.1".parse().unwrap()],
            stats: TrafficStats::default(),
            rates: RateStats::default(),
            acl: vec![AclSpec {
                action: AclAction::Deny,
                addr: "10.10.0.66".parse().unwrap(),
                prefix: 32,
            }],
            conn_limit: 7,
            acl_denied: 9,
            conn_limited: 0,
        }]
    }

    const T: Timeouts = Timeouts {
        tcp: 901,
        tcp_fin: 121,
        udp: 301,
    };

    #[test]
    fn render_is_exact_and_parses_back() {
        let text = render(&services(), &T);
        assert_eq!(
            text,
            format!(
                "{HEADER}
--set 901 121 301
-A -t 10.10.0.100:8990 -s wrr -p 300 -M 255.255.255.0
-a -t 10.10.0.100:8990 -r 10.10.1.2:8998 --fullnat -w 3
--add-laddr -z 10.10.9.1 -t 10.10.0.100:8990
--add-acl -t 10.10.0.100:8990 --deny 10.10.0.66/32
--conn-limit 7 -t 10.10.0.100:8990
# end: 6 rules
"
            )
        );
        let reqs = parse(&text, Path::new("s")).unwrap();
        assert_eq!(reqs.len(), 6);
        assert_eq!(reqs[0], Request::SetTimeouts(T));
        assert!(matches!(reqs[1], Request::AddService(_)));
        assert!(matches!(reqs[5], Request::SetConnLimit(_, 7)));
        // No services: the timeouts only.
        let empty = render(&[], &T);
        assert_eq!(parse(&empty, Path::new("s")).unwrap().len(), 1);
    }

    #[test]
    fn damaged_files_are_refused() {
        let text = render(&services(), &T);
        let p = Path::new("/x/state");
        // Any cut before the trailer is detected.
        for cut in [text.len() - 1 - "# end: 6 rules".len(), text.len() / 2, 80] {
            let e = parse(&text[..cut], p).unwrap_err();
            assert!(
                matches!(e, StateError::Truncated { .. } | StateError::BadLine { .. }),
                "cut {cut}: {e}"
            );
        }
        let without_last_rule = text.replace("--conn-limit 7 -t 10.10.0.100:8990\n", "");
        assert_eq!(
            parse(&without_last_rule, p).unwrap_err().to_string(),
            "/x/state: truncated: 5 rule lines, trailer 6 rules"
        );
        assert!(matches!(
            parse("", p).unwrap_err(),
            StateError::BadHeader { .. }
        ));
        let bad = text.replace("-s wrr", "-s wrr -x 3");
        assert_eq!(
            parse(&bad, p).unwrap_err().to_string(),
            "/x/state:3: Illegal 'u-threshold' option with the 'add-service' command"
        );
        let after = format!("{text}-C\n");
        assert!(matches!(
            parse(&after, p).unwrap_err(),
            StateError::BadLine { line: 9, .. }
        ));
    }

    #[test]
    fn write_atomic_replaces_and_load_reads() {
        let dir = std::env::temp_dir().join(format!("rvs-state-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rules.state");
        assert!(load(&path).unwrap().is_none());
        write_atomic(&path, &render(&[], &T)).unwrap();
        assert_eq!(load(&path).unwrap().unwrap().len(), 1);
        // A stale temporary file (an interrupted write) is simply overwritten.
        std::fs::write(temp_path(&path), "garbage").unwrap();
        write_atomic(&path, &render(&services(), &T)).unwrap();
        assert_eq!(load(&path).unwrap().unwrap().len(), 6);
        assert!(!temp_path(&path).exists());
        // No directory: an error, naming the step.
        let e = write_atomic(&dir.join("no/such/dir/s"), "x").unwrap_err();
        assert!(e.to_string().contains(": create: "), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
