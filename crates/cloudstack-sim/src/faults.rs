//! Fault injection and throttling.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What an injected fault does to a matching call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this HTTP status (and the same `errorcode`) instead of running the command.
    Http(u16),
    /// Delay the answer (JSON: `{"latency_ms": 250}`).
    #[serde(rename = "latency_ms", with = "duration_ms")]
    Latency(Duration),
    /// Accept the async command but make its job fail with this code and text.
    JobFailure {
        /// `jobresultcode` and `jobresult.errorcode`.
        code: u16,
        /// `jobresult.errortext`.
        text: String,
    },
    /// Close the connection without a complete answer.
    DropConnection,
}

/// How many calls a fault affects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FaultTimes {
    /// The next matching call only.
    #[default]
    Once,
    /// The next `n` matching calls.
    N(u32),
    /// Every matching call until cleared.
    Always,
}

/// A fault for one command (`"*"` matches every command).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Command name, exactly as sent (`deployVirtualMachine`), or `*`.
    pub command: String,
    /// Effect.
    pub kind: FaultKind,
    /// Duration of the fault.
    #[serde(default)]
    pub times: FaultTimes,
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// The longest injectable latency; keeps a mistaken fault from hanging a test run forever.
pub const MAX_LATENCY: Duration = Duration::from_secs(120);
/// The most faults kept at once.
pub const MAX_FAULTS: usize = 1000;

/// What the faults selected for one call amount to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Planned {
    /// Total injected latency.
    pub latency: Duration,
    /// Forced HTTP status.
    pub http: Option<u16>,
    /// Forced job failure.
    pub job_failure: Option<(u16, String)>,
    /// Drop the connection.
    pub drop: bool,
}

/// Active faults, consumed as calls match them.
#[derive(Debug, Default)]
pub struct FaultTable {
    faults: Vec<(Fault, Option<u32>)>,
}

impl FaultTable {
    /// Adds a fault; returns false when the table is full or the fault is invalid.
    pub fn add(&mut self, fault: Fault) -> Result<(), String> {
        if self.faults.len() >= MAX_FAULTS {
            return Err(format!("too many faults (at most {MAX_FAULTS})"));
        }
        match &fault.kind {
            FaultKind::Http(status) if !(400..=599).contains(status) => {
                return Err(format!(
                    "HTTP fault status {status} must be between 400 and 599"
                ));
            }
            FaultKind::Latency(d) if *d > MAX_LATENCY => {
                return Err(format!(
                    "latency must be at most {} ms",
                    MAX_LATENCY.as_millis()
                ));
            }
            _ => {}
        }
        if fault.command.is_empty() {
            return Err("fault command must not be empty".into());
        }
        let remaining = match fault.times {
            FaultTimes::Once => Some(1),
            FaultTimes::N(0) => return Err("fault times n must be at least 1".into()),
            FaultTimes::N(n) => Some(n),
            FaultTimes::Always => None,
        };
        self.faults.push((fault, remaining));
        Ok(())
    }

    /// Removes every fault.
    pub fn clear(&mut self) {
        self.faults.clear();
    }

    /// The active faults.
    pub fn list(&self) -> Vec<Fault> {
        self.faults.iter().map(|(f, _)| f.clone()).collect()
    }

    /// Selects and consumes the faults matching `command`.
    pub fn take(&mut self, command: &str) -> Planned {
        let mut planned = Planned::default();
        for (fault, remaining) in &mut self.faults {
            if fault.command != "*" && fault.command != command {
                continue;
            }
            match &fault.kind {
                FaultKind::Latency(d) => planned.latency += *d,
                FaultKind::Http(s) if planned.http.is_none() && !planned.drop => {
                    planned.http = Some(*s)
                }
                FaultKind::DropConnection if planned.http.is_none() => planned.drop = true,
                FaultKind::JobFailure { code, text } if planned.job_failure.is_none() => {
                    planned.job_failure = Some((*code, text.clone()));
                }
                _ => continue,
            }
            if let Some(n) = remaining {
                *n = n.saturating_sub(1);
            }
        }
        self.faults
            .retain(|(_, remaining)| remaining.is_none_or(|n| n > 0));
        planned
    }
}

/// Per-account fixed one-second windows, like `api.throttling.interval=1`.
#[derive(Debug, Default)]
pub struct Throttle {
    /// Whether throttling is on.
    pub enabled: bool,
    windows: HashMap<String, (u64, u32)>,
}

impl Throttle {
    /// Counts a call; returns the retry delay in ms when over the limit.
    pub fn check(&mut self, account: &str, now_ms: u64, max_per_second: u32) -> Option<u64> {
        if !self.enabled {
            return None;
        }
        let window = self
            .windows
            .entry(account.to_owned())
            .or_insert((now_ms, 0));
        if now_ms >= window.0 + 1000 {
            *window = (now_ms, 0);
        }
        window.1 += 1;
        (window.1 > max_per_second).then(|| (window.0 + 1000).saturating_sub(now_ms).max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed() {
        let mut table = FaultTable::default();
        table
            .add(Fault {
                command: "a".into(),
                kind: FaultKind::Http(503),
                times: FaultTimes::N(2),
            })
            .unwrap();
        table
            .add(Fault {
                command: "*".into(),
                kind: FaultKind::Latency(Duration::from_millis(5)),
                times: FaultTimes::Always,
            })
            .unwrap();
        assert_eq!(table.take("b").http, None);
        assert_eq!(table.take("a").http, Some(503));
        let second = table.take("a");
        assert_eq!(second.http, Some(503));
        assert_eq!(second.latency, Duration::from_millis(5));
        assert_eq!(table.take("a").http, None);
        assert!(
            table
                .add(Fault {
                    command: "a".into(),
                    kind: FaultKind::Http(200),
                    times: FaultTimes::Once
                })
                .is_err()
        );
    }

    #[test]
    fn fault_json_shapes() {
        let fault: Fault =
            serde_json::from_str(r#"{"command":"x","kind":{"latency_ms":250},"times":{"n":3}}"#)
                .unwrap();
        assert_eq!(fault.kind, FaultKind::Latency(Duration::from_millis(250)));
        assert_eq!(fault.times, FaultTimes::N(3));
        let fault: Fault =
            serde_json::from_str(r#"{"command":"x","kind":"drop_connection"}"#).unwrap();
        assert_eq!(fault.times, FaultTimes::Once);
        let fault: Fault = serde_json::from_str(
            r#"{"command":"x","kind":{"job_failure":{"code":530,"text":"boom"}},"times":"always"}"#,
        )
        .unwrap();
        assert_eq!(fault.times, FaultTimes::Always);
    }

    #[test]
    fn throttle_window() {
        let mut t = Throttle {
            enabled: true,
            ..Throttle::default()
        };
        for _ in 0..25 {
            assert_eq!(t.check("a", 1000, 25), None);
        }
        assert_eq!(t.check("a", 1400, 25), Some(600));
        assert_eq!(t.check("b", 1400, 25), None);
        assert_eq!(t.check("a", 2000, 25), None);
    }
}
