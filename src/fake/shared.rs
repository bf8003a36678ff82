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

/// The remembered requests and the bytes of their bodies, bounded by both.
#[derive(Default)]
pub(crate) struct Recorded {
    list: VecDeque<RecordedRequest>,
    bytes: usize,
}

impl Recorded {
    /// Remembers `r`, forgetting the oldest beyond `max_requests` requests or `max_bytes`
    /// bytes of bodies (a larger body is kept cut to `max_bytes`). O(1) per request.
    pub(crate) fn push(&mut self, mut r: RecordedRequest, max_requests: usize, max_bytes: usize) {
        if max_requests == 0 {
            return;
        }
        r.body.truncate(max_bytes);
        r.body.shrink_to_fit();
        while self.list.len() >= max_requests
            || (!self.list.is_empty() && self.bytes + r.body.len() > max_bytes)
        {
            let old = self.list.pop_front().map_or(0, |q| q.body.len());
            self.bytes -= old;
        }
        self.bytes += r.body.len();
        self.list.push_back(r);
    }

    /// The remembered requests, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &RecordedRequest> {
        self.list.iter()
    }

    /// Forgets every request.
    pub(crate) fn clear(&mut self) {
        self.list.clear();
        self.bytes = 0;
    }
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
    pub(crate) requests: Mutex<Recorded>,
    pub(crate) max_requests: usize,
    /// Most bytes of request bodies kept in `requests`.
    pub(crate) max_request_bytes: usize,
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
