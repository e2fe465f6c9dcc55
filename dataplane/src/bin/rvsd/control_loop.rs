//! rvsd's control side: owns the rule set, answers control-socket requests, publishes snapshots.
//!
//! Runs on the main lcore (a plain thread). Every mutating request is validated and applied to
//! [`Rules`]; on success a new immutable snapshot is built and sent to every worker, and the reply
//! waits until each worker has acknowledged that generation, so a client that gets `Ok` knows the
//! dataplane already runs the new rules. A refused request changes nothing.
//! Reads that need the workers (sessions, counters) are sent to each of them as messages and
//! gathered with a deadline: the workers answer between bursts, so forwarding never stalls on a lock.
//!
//! Every [`estimator::PERIOD_MS`] the loop samples every service's and dest's counters into the
//! rate estimators (IPVS' 2-second estimator), whose rates fill the `rates` of `GetServices` answers;
//! `-Z` restarts the estimators of what it zeroed.

use crossbeam_channel::{Receiver, Sender};
use rvs_control::proto::{ApiError, DataplaneStats, Reply, Request, Response};
use rvs_dataplane::estimator::{self, Estimators};
use rvs_dataplane::rules::Rules;
use rvs_dataplane::service::Snapshot;
use rvs_dataplane::worker::WorkerMsg;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a worker may take to acknowledge a snapshot or answer a query.
const WORKER_DEADLINE: Duration = Duration::from_secs(2);

/// The control side's state.
pub struct ControlLoop {
    rules: Rules,
    workers: Vec<Sender<WorkerMsg>>,
    port_stats: Box<dyn Fn() -> Vec<rvs_control::proto::Counter> + Send>,
    /// The last snapshot built (what the workers run once acknowledged).
    snap: Arc<Snapshot>,
    estimators: Estimators,
}

impl ControlLoop {
    /// A control loop over `workers`' message channels; `port_stats` reads the ports' counters.
    pub fn new(
        workers: Vec<Sender<WorkerMsg>>,
        port_stats: Box<dyn Fn() -> Vec<rvs_control::proto::Counter> + Send>,
    ) -> Self {
        ControlLoop {
            rules: Rules::new(),
            workers,
            port_stats,
            snap: Snapshot::empty(),
            estimators: Estimators::new(),
        }
    }

    /// Take one 2-second sample of every counter set into the rate estimators.
    pub fn estimate(&mut self) {
        self.estimators.tick(&self.snap);
    }

    /// Publish the current rules to every worker and wait for their acknowledgements.
    pub fn publish(&mut self) -> Result<(), ApiError> {
        let snap = self.rules.snapshot();
        self.snap = Arc::clone(&snap);
        let gen = snap.generation();
        let (ack_tx, ack_rx) = crossbeam_channel::bounded(self.workers.len());
        for w in &self.workers {
            w.send(WorkerMsg::Snapshot(snap.clone(), ack_tx.clone()))
                .map_err(|_| ApiError::Internal("a worker has stopped".into()))?;
        }
        for _ in 0..self.workers.len() {
            match ack_rx.recv_timeout(WORKER_DEADLINE) {
                Ok(g) if g == gen => {}
                Ok(_) => {}
                Err(_) => {
                    return Err(ApiError::Internal(
                        "a worker did not acknowledge the rules".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Apply a start-up rule without publishing (call [`ControlLoop::publish`] once after the batch).
    pub fn apply_quiet(&mut self, req: &Request) -> Result<(), ApiError> {
        self.rules.apply(req)
    }

    /// Ask every worker to send gratuitous ARP for the local addresses.
    pub fn send_garp(&self) {
        for w in &self.workers {
            let _ = w.send(WorkerMsg::SendGarp);
        }
    }

    /// Answer one request.
    pub fn handle(&mut self, req: &Request) -> Reply {
        match req {
            Request::GetServices(_) => {
                let mut r = self.rules.query(req)?;
                if let Response::Services(infos) = &mut r {
                    self.estimators.fill(&self.snap, infos);
                }
                Ok(r)
            }
            Request::GetTimeouts | Request::GetLaddrs(_) => self.rules.query(req),
            Request::Zero(k) => {
                self.rules.apply(req)?;
                self.estimators.zero(&self.snap, k.as_ref());
                Ok(Response::Ok)
            }
            Request::GetConns => {
                let (tx, rx) = crossbeam_channel::bounded(self.workers.len());
                for w in &self.workers {
                    w.send(WorkerMsg::GetConns(tx.clone()))
                        .map_err(|_| ApiError::Internal("a worker has stopped".into()))?;
                }
                let mut all = Vec::new();
                for _ in 0..self.workers.len() {
                    let mut c = rx
                        .recv_timeout(WORKER_DEADLINE)
                        .map_err(|_| ApiError::Internal("a worker did not answer".into()))?;
                    all.append(&mut c);
                }
                Ok(Response::Conns(all))
            }
            Request::GetDataplaneStats => {
                let (tx, rx) = crossbeam_channel::bounded(self.workers.len());
                for w in &self.workers {
                    w.send(WorkerMsg::GetStats(tx.clone()))
                        .map_err(|_| ApiError::Internal("a worker has stopped".into()))?;
                }
                let mut lcores = Vec::new();
                for _ in 0..self.workers.len() {
                    lcores.push(
                        rx.recv_timeout(WORKER_DEADLINE)
                            .map_err(|_| ApiError::Internal("a worker did not answer".into()))?,
                    );
                }
                lcores.sort_by_key(|l| l.lcore);
                Ok(Response::DataplaneStats(DataplaneStats {
                    lcores,
                    ports: (self.port_stats)(),
                }))
            }
            _ => {
                self.rules.apply(req)?;
                self.publish()?;
                if matches!(req, Request::AddService(_) | Request::AddLaddr(..)) {
                    self.send_garp();
                }
                Ok(Response::Ok)
            }
        }
    }

    /// Serve requests until `stop` is set, sampling the rate estimators every 2 seconds.
    pub fn run(&mut self, requests: &Receiver<(Request, Sender<Reply>)>, stop: &AtomicBool) {
        let period = Duration::from_millis(estimator::PERIOD_MS);
        let mut next_sample = Instant::now() + period;
        while !stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= next_sample {
                self.estimate();
                next_sample += period;
                if next_sample <= now {
                    // Fell a whole period behind (a slow request): restart the cadence from now.
                    next_sample = now + period;
                }
            }
            let wait = next_sample
                .saturating_duration_since(now)
                .min(Duration::from_millis(100));
            match requests.recv_timeout(wait) {
                Ok((req, reply_tx)) => {
                    let reply = self.handle(&req);
                    let _ = reply_tx.send(reply);
                }
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            }
        }
    }
}
