//! The two load loops. Closed loop: every connection sends its next request as soon as the previous one
//! is answered. Open loop: requests are scheduled at a fixed rate (connection `i` owns the slots `i`,
//! `i + N`, `i + 2N`, ...) and latency counts from the scheduled time whenever the connection was still busy,
//! so queueing is never hidden. Requests scheduled during the warm-up are sent but not counted.

use crate::target::{Connection, Outcome, Target};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which loop to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// As fast as possible on every connection.
    Closed,
    /// A fixed offered rate, in requests per second.
    Open(f64),
}

/// The time frame of a run.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// When the first request is sent (or scheduled).
    pub origin: Instant,
    /// When counting starts (origin + warm-up).
    pub measure_start: Instant,
    /// When sending stops.
    pub end: Instant,
}

/// What one connection saw during the measured window.
#[derive(Debug, Default)]
pub struct WorkerReport {
    /// Latencies of counted requests, in microseconds.
    pub latencies: Vec<u64>,
    /// Counted answers with HTTP 200.
    pub ok: u64,
    /// Counted answers with another status, and failed requests.
    pub errors: u64,
    /// Open loop: requests scheduled in the measured window.
    pub scheduled: u64,
    /// Open loop: scheduled requests never sent because the connection was still behind at the end.
    pub unsent: u64,
    /// Open loop: counted requests sent more than 1 ms after their scheduled time.
    pub late: u64,
    /// The last error message, if any.
    pub last_error: Option<String>,
}

impl WorkerReport {
    fn record(&mut self, result: &Result<Outcome, crate::target::TargetError>, latency: Duration) {
        match result {
            Ok(Outcome::Ok) => {
                self.ok += 1;
                self.latencies.push(latency.as_micros() as u64);
            }
            Ok(Outcome::Status(status)) => {
                self.errors += 1;
                self.last_error = Some(format!("HTTP {status}"));
            }
            Err(e) => {
                self.errors += 1;
                self.last_error = Some(e.to_string());
            }
        }
    }
}

/// Most reconnection attempts in a row before a worker gives up.
const MAX_RECONNECTS: u32 = 20;

async fn reconnect(
    connection: &mut Connection,
    target: &Target,
    tls: &Arc<rustls::ClientConfig>,
    report: &mut WorkerReport,
) -> bool {
    for _ in 0..MAX_RECONNECTS {
        match Connection::open(target, tls).await {
            Ok(fresh) => {
                *connection = fresh;
                return true;
            }
            Err(e) => {
                report.last_error = Some(e.to_string());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    false
}

/// What every connection shares.
#[derive(Debug)]
pub struct Plan {
    /// Loop kind.
    pub mode: Mode,
    /// Time frame.
    pub window: Window,
    /// Number of connections.
    pub connections: usize,
    /// Where to send.
    pub target: Target,
    /// TLS settings (for reconnects).
    pub tls: Arc<rustls::ClientConfig>,
    /// The request body.
    pub body: Bytes,
}

/// Runs connection `index`'s share of the load.
pub async fn worker(mut connection: Connection, index: usize, plan: Arc<Plan>) -> WorkerReport {
    let Plan { mode, window, connections, ref target, ref tls, ref body } = *plan;
    let mut report = WorkerReport::default();
    let mut slot: u64 = 0;
    // Scheduled time of an open-loop slot.
    let slot_time = |slot: u64, rate: f64| {
        let global = index as u64 + slot * connections as u64;
        window.origin + Duration::from_secs_f64(global as f64 / rate)
    };
    loop {
        let now = Instant::now();
        // When this request's latency starts counting, and whether it is in the measured window.
        let (from, counted) = match mode {
            Mode::Closed if now >= window.end => break,
            Mode::Closed => (now, now >= window.measure_start),
            Mode::Open(rate) => {
                let scheduled = slot_time(slot, rate);
                if scheduled >= window.end {
                    break;
                }
                if now >= window.end {
                    // Still behind at the end: the remaining slots were never sent.
                    while slot_time(slot, rate) < window.end {
                        let unsent = slot_time(slot, rate) >= window.measure_start;
                        report.unsent += u64::from(unsent);
                        report.scheduled += u64::from(unsent);
                        slot += 1;
                    }
                    break;
                }
                slot += 1;
                let counted = scheduled >= window.measure_start;
                report.scheduled += u64::from(counted);
                if now < scheduled {
                    // Idle connection: wait for the slot; the timer's own lateness is not the server's.
                    tokio::time::sleep_until(scheduled.into()).await;
                    (Instant::now(), counted)
                } else {
                    // Still busy past the slot: the wait is queueing and counts.
                    report.late += u64::from(counted && now - scheduled > Duration::from_millis(1));
                    (scheduled, counted)
                }
            }
        };
        let result = connection.post(target, body).await;
        let done = Instant::now();
        if counted && done <= window.end {
            report.record(&result, done - from);
        }
        if result.is_err() && !reconnect(&mut connection, target, tls, &mut report).await {
            break;
        }
    }
    report
}
