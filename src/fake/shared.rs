//! What the server threads, the admin routes and the [`FakeSuger`](super::FakeSuger) handle
//! share: the state, the fault queue, the recorded requests and the open connections.

use std::collections::{HashMap, VecDeque};
use std::net::TcpStream;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use super::fault::Fault;
use super::operation::RecordedRequest;
use super::state::State;

/// Locks a mutex, ignoring poisoning (a panicking test thread must not wedge the fake).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Open connections and their threads.
#[derive(Default)]
pub(crate) struct Conns {
    pub(crate) open: HashMap<u64, TcpStream>,
    pub(crate) handles: Vec<JoinHandle<()>>,
}

/// Everything the server threads and the `FakeSuger` handle share.
pub(crate) struct Shared {
    pub(crate) api_key: String,
    pub(crate) org_id: String,
    pub(crate) state: Mutex<State>,
    pub(crate) faults: Mutex<VecDeque<Fault>>,
    /// The most recent requests, at most `max_requests` of them.
    pub(crate) requests: Mutex<VecDeque<RecordedRequest>>,
    pub(crate) max_requests: usize,
    /// Most connections served at once; more are closed on accept.
    pub(crate) max_connections: usize,
    /// Longest idle time, and longest time to receive one whole request, per connection.
    pub(crate) read_timeout: Duration,
    pub(crate) stop: AtomicBool,
    pub(crate) conns: Mutex<Conns>,
}

impl Shared {
    /// Drops queued faults and every report outcome and page cap a test decided.
    pub(crate) fn clear_faults(&self) {
        lock(&self.faults).clear();
        lock(&self.state).clear_test_outcomes();
    }

    /// No faults, no recorded requests, the state back to the seed.
    pub(crate) fn reset(&self) {
        lock(&self.faults).clear();
        lock(&self.requests).clear();
        lock(&self.state).reset();
    }
}
