//! Injected time, so that polling, retries and rate limiting can be tested without sleeping.
//!
//! Production code uses [`TokioClock`]. Tests use [`ManualClock`], whose `sleep` returns at once
//! after advancing its notion of "now" and recording the requested duration. `tokio::time::pause`
//! is deliberately not used: with real sockets it auto-advances while a task waits on I/O.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;

/// A boxed future returned by [`Clock::sleep`], so that the trait stays object-safe.
pub type SleepFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A source of monotonic time and a way to wait.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current monotonic instant.
    fn now(&self) -> Instant;
    /// Waits for `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture<'_>;
    /// The current wall-clock time, used for the `expires` signature parameter.
    fn wall_now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The real clock, backed by `tokio::time`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
        Box::pin(tokio::time::sleep(duration))
    }
}

#[derive(Debug, Default)]
struct ManualState {
    elapsed: Duration,
    sleeps: Vec<Duration>,
}

/// A test clock whose `sleep` advances time instantly and records each requested duration.
#[derive(Debug, Clone)]
pub struct ManualClock {
    start: Instant,
    state: Arc<Mutex<ManualState>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// Creates a clock starting at the current instant.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            state: Arc::new(Mutex::new(ManualState::default())),
        }
    }

    /// Moves time forward without a sleep being recorded.
    pub fn advance(&self, by: Duration) {
        if let Ok(mut state) = self.state.lock() {
            state.elapsed += by;
        }
    }

    /// Total time advanced so far.
    pub fn elapsed(&self) -> Duration {
        self.state.lock().map(|s| s.elapsed).unwrap_or_default()
    }

    /// Every duration passed to `sleep`, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.state
            .lock()
            .map(|s| s.sleeps.clone())
            .unwrap_or_default()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }

    fn sleep(&self, duration: Duration) -> SleepFuture<'_> {
        if let Ok(mut state) = self.state.lock() {
            state.elapsed += duration;
            state.sleeps.push(duration);
        }
        // Yield once so that a loop built on this clock still lets other tasks run.
        Box::pin(tokio::task::yield_now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_advances_on_sleep_without_waiting() {
        let clock = ManualClock::new();
        let before = clock.now();
        let real_before = Instant::now();
        clock.sleep(Duration::from_secs(3600)).await;
        assert_eq!(clock.now() - before, Duration::from_secs(3600));
        assert!(real_before.elapsed() < Duration::from_secs(5));
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(3600)]);
    }
}
