//! Test helpers: unique temp dirs and a fake daemon handler.
#![allow(dead_code)]

use crossbeam_channel::{Receiver, Sender};
use rvs_control::proto::{Reply, Request};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

type Job = (Request, Sender<Reply>);
type Handler = Sender<Job>;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("rvs-ctl-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `f` on every request in a thread until the channel closes; returns the sender for `serve`.
pub fn fake_handler<F>(mut f: F) -> Handler
where
    F: FnMut(Request) -> Reply + Send + 'static,
{
    let (tx, rx): (Handler, Receiver<Job>) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        while let Ok((req, reply)) = rx.recv() {
            let _ = reply.send(f(req));
        }
    });
    tx
}
