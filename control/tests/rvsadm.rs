//! The `rvsadm` binary against an in-test daemon (`serve` plus a small in-memory rule table): exit
//! codes, stdout and stderr, `--socket` and `RVS_SOCKET`, `-R` from stdin, an unreachable daemon.

mod common;

use common::{fake_handler, TempDir};
use rvs_control::proto::*;
use rvs_control::server::serve;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One established session from the client's `cport`.
fn conn(cport: u16) -> ConnInfo {
    ConnInfo {
        proto: Protocol::Tcp,
        expires_s: 897,
        state: "ESTABLISHED".into(),
        client: ("10.10.0.2".parse().unwrap(), cport),
        virt: ("10.10.0.100".parse().unwrap(), 8990),
        dest: ("10.10.1.2".parse().unwrap(), 8998),
        local: None,
        lcore: 1,
    }
}

/// A minimal daemon: services and dests with ipvsadm's error classes.
#[derive(Default)]
struct Table {
    services: Vec<ServiceInfo>,
    timeouts: Option<Timeouts>,
}

impl Table {
    fn find(&mut self, k: &ServiceKey) -> Option<&mut ServiceInfo> {
        self.services.iter_mut().find(|s| s.spec.key == *k)
    }

    fn handle(&mut self, req: Request) -> Reply {
        match req {
            Request::AddService(spec) => {
                if self.find(&spec.key).is_some() {
                    return Err(ApiError::ServiceExists);
                }
                if !["rr", "wrr", "wlc", "lc", "sh", "mh"].contains(&spec.scheduler.as_str()) {
                    return Err(ApiError::NoScheduler);
                }
                self.services.push(ServiceInfo {
                    spec,
                    dests: vec![],
                    laddrs: vec![],
                    stats: TrafficStats::default(),
                    rates: RateStats::default(),
                    acl: vec![],
                    conn_limit: 0,
                    acl_denied: 0,
                    conn_limited: 0,
                });
                Ok(Response::Ok)
            }
            Request::DelService(k) => {
                let before = self.services.len();
                self.services.retain(|s| s.spec.key != k);
                if before == self.services.len() {
                    Err(ApiError::NoSuchService)
                } else {
                    Ok(Response::Ok)
                }
            }
            Request::Flush => {
                self.services.clear();
                Ok(Response::Ok)
            }
            Request::AddDest(k, d) => {
                let s = self.find(&k).ok_or(ApiError::ServiceNotDefined)?;
                if s.dests
                    .iter()
                    .any(|x| x.spec.addr == d.addr && x.spec.port == d.port)
                {
                    return Err(ApiError::DestExists);
                }
                if d.l_threshold > d.u_threshold {
                    return Err(ApiError::OutOfRange);
                }
                s.dests.push(DestInfo {
                    spec: d,
                    active_conns: 0,
                    inactive_conns: 0,
                    persist_conns: 0,
                    stats: TrafficStats::default(),
                    rates: RateStats::default(),
                });
                Ok(Response::Ok)
            }
            Request::AddLaddr(k, l) => {
                let s = self.find(&k).ok_or(ApiError::NoSuchService)?;
                s.laddrs.push(l.addr);
                Ok(Response::Ok)
            }
            Request::GetServices(None) => Ok(Response::Services(self.services.clone())),
            // One service per page, to exercise the paging.
            Request::GetServicesPage { start, .. } => {
                let i = start as usize;
                Ok(Response::ServicesPage {
                    services: self.services.get(i).cloned().into_iter().collect(),
                    next: (i + 1 < self.services.len()).then_some(start + 1),
                })
            }
            Request::GetServices(Some(k)) => match self.find(&k) {
                Some(s) => Ok(Response::Services(vec![s.clone()])),
                None => Err(ApiError::NoSuchService),
            },
            Request::SetTimeouts(t) => {
                self.timeouts = Some(t);
                Ok(Response::Ok)
            }
            Request::AddAcl(k, a) => {
                let s = self.find(&k).ok_or(ApiError::NoSuchService)?;
                if s.acl.contains(&a) {
                    return Err(ApiError::AclExists);
                }
                s.acl.push(a);
                Ok(Response::Ok)
            }
            Request::DelAcl(k, a) => {
                let s = self.find(&k).ok_or(ApiError::NoSuchService)?;
                let i = s
                    .acl
                    .iter()
                    .position(|x| *x == a)
                    .ok_or(ApiError::NoSuchAcl)?;
                s.acl.remove(i);
                Ok(Response::Ok)
            }
            Request::SetConnLimit(k, n) => {
                self.find(&k).ok_or(ApiError::NoSuchService)?.conn_limit = n;
                Ok(Response::Ok)
            }
            Request::GetTimeouts => Ok(Response::Timeouts(self.timeouts.unwrap_or(Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300,
            }))),
            Request::GetDataplaneStats => Ok(Response::DataplaneStats(DataplaneStats {
                lcores: vec![LcoreStats {
                    lcore: 1,
                    counters: vec![Counter {
                        name: "rx_packets".into(),
                        value: 42,
                    }],
                }],
                ports: vec![Counter {
                    name: "port0.rx_packets".into(),
                    value: 42,
                }],
            })),
            Request::GetConns => Ok(Response::Conns(vec![conn(40000)])),
            // Two pages: the first ends at a cursor, the second ends the listing.
            Request::GetConnsPage { cursor, .. } if cursor == ConnCursor::default() => {
                Ok(Response::ConnsPage {
                    conns: vec![conn(40000)],
                    next: Some(ConnCursor { worker: 1, slot: 0 }),
                })
            }
            Request::GetConnsPage { .. } => Ok(Response::ConnsPage {
                conns: vec![conn(40001)],
                next: None,
            }),
            Request::Batch(reqs) => Ok(Response::Batch(
                reqs.into_iter()
                    .map(|r| self.handle(r).map(|_| ()))
                    .collect(),
            )),
            _ => Err(ApiError::Unsupported("not in this fake".into())),
        }
    }
}

struct Daemon {
    _dir: TempDir,
    path: PathBuf,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
    }
}

fn daemon(tag: &str) -> Daemon {
    let dir = TempDir::new(tag);
    let path = dir.0.join("rvsd.sock");
    let table = Arc::new(Mutex::new(Table::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let handle = serve(
        &path,
        fake_handler(move |req| table.lock().unwrap().handle(req)),
        stop.clone(),
    )
    .unwrap();
    Daemon {
        _dir: dir,
        path,
        stop,
        handle: Some(handle),
    }
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run_with(sock: Option<&Path>, env_sock: Option<&Path>, args: &str, stdin: &str) -> Out {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rvsadm"));
    if let Some(s) = sock {
        cmd.arg("--socket").arg(s);
    }
    cmd.args(args.split_whitespace());
    cmd.env_remove("RVS_SOCKET");
    if let Some(e) = env_sock {
        cmd.env("RVS_SOCKET", e);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    Out {
        code: o.status.code().unwrap(),
        stdout: String::from_utf8(o.stdout).unwrap(),
        stderr: String::from_utf8(o.stderr).unwrap(),
    }
}

fn run(d: &Daemon, args: &str) -> Out {
    run_with(Some(&d.path), None, args, "")
}

#[test]
fn add_list_errors_and_exit_codes() {
    let d = daemon("cli");
    let o = run(&d, "-A -t 10.10.0.100:8990 -s rr");
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (0, "", ""));
    let o = run(&d, "-A -t 10.10.0.100:8990 -s wlc");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (255, "Service already exists\n")
    );
    let o = run(&d, "-A -t 10.10.0.101:8990 -s foo");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (255, "Scheduler or persistence engine not found\n")
    );
    assert_eq!(
        run(&d, "-a -t 10.10.0.100:8990 -r 10.10.1.2:8998 -m").code,
        0
    );
    assert_eq!(
        run(
            &d,
            "-a -t 10.10.0.100:8990 -r 10.10.2.2:8999 --fullnat -w 2"
        )
        .code,
        0
    );
    let o = run(&d, "-a -t 10.10.0.100:8990 -r 10.10.1.3 -m -y 10");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (255, "Numerical result out of range\n")
    );
    let o = run(&d, "-a -t 10.0.0.2:80 -r 192.168.1.2");
    assert_eq!((o.code, o.stderr.as_str()), (255, "Service not defined\n"));
    let o = run(&d, "-Ln");
    assert_eq!(o.code, 0);
    assert_eq!(
        o.stdout,
        "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.10.0.100:8990 rr
  -> 10.10.1.2:8998               Masq    1      0          0         
  -> 10.10.2.2:8999               FullNat 2      0          0         
"
    );
    let o = run(&d, "-Ln -t 10.0.0.2:80");
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (1, "", "No such service\n")
    );
    let o = run(&d, "-D -t 10.0.0.2:80");
    assert_eq!((o.code, o.stderr.as_str()), (255, "No such service\n"));
    let o = run(&d, "-Sn");
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (
            0,
            "-A -t 10.10.0.100:8990 -s rr
-a -t 10.10.0.100:8990 -r 10.10.1.2:8998 -m -w 1
-a -t 10.10.0.100:8990 -r 10.10.2.2:8999 --fullnat -w 2
"
        )
    );
    let o = run(&d, "--set 0 0 120");
    assert_eq!(o.code, 0);
    let o = run(&d, "-L --timeout");
    assert_eq!(o.stdout, "Timeout (tcp tcpfin udp): 0 0 120\n");
    let o = run(&d, "--dp-stats");
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "lcore 1 rx_packets 42\nport port0.rx_packets 42\n")
    );
    // -Lnc follows the pages (two in this fake) and prints them as one listing.
    let o = run(&d, "-Lnc");
    assert_eq!(
        o.stdout,
        "IPVS connection entries
pro expire state       source             virtual            destination
TCP 14:57  ESTABLISHED 10.10.0.2:40000    10.10.0.100:8990   10.10.1.2:8998
TCP 14:57  ESTABLISHED 10.10.0.2:40001    10.10.0.100:8990   10.10.1.2:8998
"
    );
    // -L --daemon prints nothing.
    let o = run(&d, "-L --daemon");
    assert_eq!((o.code, o.stdout.as_str()), (0, ""));
    // Parse errors never reach the daemon and keep ipvsadm's codes.
    let o = run(&d, "-A -t 10.0.0.1");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (2, "Zero port specified for non-persistent service\n")
    );
    let o = run(&d, "-t 10.0.0.1:80");
    assert_eq!(o.code, 255);
    assert!(o.stderr.starts_with("Try `"), "{}", o.stderr);
    assert!(o.stderr.ends_with(" --help' for more information.\n"));
    let o = run(&d, "-A -f 1");
    assert_eq!(o.code, 2);
    assert!(o.stderr.contains("not supported by rvs"));
}

#[test]
fn socket_path_from_environment_and_flag_precedence() {
    let d = daemon("env");
    // RVS_SOCKET alone.
    let o = run_with(None, Some(&d.path), "-C", "");
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    // The flag wins over the environment (which points nowhere), and may come anywhere.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rvsadm"));
    let o = cmd
        .args(["-L", "--socket"])
        .arg(&d.path)
        .arg("-n")
        .env("RVS_SOCKET", "/nonexistent/rvs.sock")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8(o.stdout)
        .unwrap()
        .starts_with("IP Virtual Server version 1.2.1 (size=4096)\n"));
}

#[test]
fn unreachable_daemon_is_exit_2() {
    let dir = TempDir::new("none");
    let o = run_with(Some(&dir.0.join("nothing.sock")), None, "-Ln", "");
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.starts_with("Can't initialize ipvs: "),
        "{}",
        o.stderr
    );
    // -h and -v work without a daemon.
    let o = run_with(Some(&dir.0.join("nothing.sock")), None, "-v", "");
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (
            0,
            "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n"
        )
    );
    let o = run_with(Some(&dir.0.join("nothing.sock")), None, "-h", "");
    assert_eq!(o.code, 0);
    assert!(o.stdout.contains("\nCommands:\n"));
}

#[test]
fn restore_from_stdin() {
    let d = daemon("restore");
    let input = "# lab rules\n-A -t 10.10.0.100:8990 -s rr\n\nipvsadm -a -t 10.10.0.100:8990 -r 10.10.1.2:8998 -m\n-a -t 10.10.0.100:8990 -r 10.10.1.2:8998 -m\n--add-laddr -z 10.10.9.1 -t 10.10.0.100:8990\n";
    let o = run_with(Some(&d.path), None, "-R", input);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (0, "Destination already exists\n")
    );
    let o = run(&d, "-S -n");
    assert_eq!(
        o.stdout,
        "-A -t 10.10.0.100:8990 -s rr
-a -t 10.10.0.100:8990 -r 10.10.1.2:8998 -m -w 1
--add-laddr -z 10.10.9.1 -t 10.10.0.100:8990
"
    );
    // A parse error stops the restore with its line number; earlier lines stay applied.
    let o = run_with(
        Some(&d.path),
        None,
        "-R",
        "-C\n-A -t 10.0.0.1:80\n-A -t 10.0.0.2\n-A -t 10.0.0.3:80\n",
    );
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            2,
            "line 3: Zero port specified for non-persistent service\n"
        )
    );
    let o = run(&d, "-Sn");
    assert_eq!(o.stdout, "-A -t 10.0.0.1:80 -s wlc\n");
    // Save output restores to the same table.
    let saved = o.stdout;
    let o = run_with(Some(&d.path), None, "-R", &format!("-C\n{saved}"));
    assert_eq!(o.code, 0);
    assert_eq!(run(&d, "-Sn").stdout, saved);
}

/// Access control: `--add-acl`/`--del-acl`/`--conn-limit`/`--get-acl`, their errors, and `-S` lines
/// that `-R` restores to the same table.
#[test]
fn acl_commands_save_and_restore() {
    let d = daemon("acl");
    assert_eq!(run(&d, "-A -t 10.10.0.100:8990 -s rr").code, 0);
    for args in [
        "--add-acl -t 10.10.0.100:8990 --allow 10.10.0.0/24",
        "--add-acl -t 10.10.0.100:8990 --deny 10.10.0.66",
        "--conn-limit 100 -t 10.10.0.100:8990",
    ] {
        let o = run(&d, args);
        assert_eq!((o.code, o.stderr.as_str()), (0, ""), "{args}");
    }
    let o = run(&d, "--add-acl -t 10.10.0.100:8990 --allow 10.10.0.0/24");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (255, "ACL entry already exists\n")
    );
    let o = run(&d, "--del-acl -t 10.10.0.100:8990 --deny 10.10.0.67");
    assert_eq!((o.code, o.stderr.as_str()), (255, "No such ACL entry\n"));
    let o = run(&d, "--add-acl -t 10.10.0.100:8991 --deny 10.10.0.67");
    assert_eq!((o.code, o.stderr.as_str()), (255, "No such service\n"));
    let o = run(&d, "--add-acl -t 10.10.0.100:8990 --deny 10.10.0.1/24");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (2, "illegal ACL prefix specified\n")
    );
    let o = run(&d, "--add-acl -t 10.10.0.100:8990");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (2, "You need to supply the 'allow' or 'deny' option\n")
    );
    let o = run(
        &d,
        "--add-acl -t 10.10.0.100:8990 --allow 10.0.0.0/8 --deny 10.1.0.0/16",
    );
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (
            2,
            "The option 'deny' conflicts with the 'allow' option in the 'add-acl' command\n"
        )
    );
    let o = run(&d, "--conn-limit x -t 10.10.0.100:8990");
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (2, "illegal connection limit specified\n")
    );
    let o = run(&d, "--get-acl -n");
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (
            0,
            "TCP  10.10.0.100:8990 conn-limit 100 acl-denied 0 conn-limited 0\n  deny  10.10.0.66/32\n  allow 10.10.0.0/24\n"
        )
    );
    let saved = run(&d, "-Sn").stdout;
    assert_eq!(
        saved,
        "-A -t 10.10.0.100:8990 -s rr
--add-acl -t 10.10.0.100:8990 --allow 10.10.0.0/24
--add-acl -t 10.10.0.100:8990 --deny 10.10.0.66/32
--conn-limit 100 -t 10.10.0.100:8990
"
    );
    let o = run_with(Some(&d.path), None, "-R", &format!("-C\n{saved}"));
    assert_eq!((o.code, o.stderr.as_str()), (0, ""));
    assert_eq!(run(&d, "-Sn").stdout, saved);
    assert_eq!(
        run(&d, "--del-acl -t 10.10.0.100:8990 --deny 10.10.0.66/32").code,
        0
    );
    assert_eq!(run(&d, "--conn-limit 0 -t 10.10.0.100:8990").code, 0);
    assert_eq!(
        run(&d, "-Sn").stdout,
        "-A -t 10.10.0.100:8990 -s rr\n--add-acl -t 10.10.0.100:8990 --allow 10.10.0.0/24\n"
    );
}
