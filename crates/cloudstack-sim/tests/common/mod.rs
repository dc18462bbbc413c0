//! Shared test helpers: an emulator started on a free port and a client with its own,
//! independent implementation of CloudStack request signing (not the library's verifier).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use cloudstack_sim::{ManualClock, Sim, SimConfig, SimHandle};
use hmac::{KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

pub const USER_KEY: &str = "test-user-key";
pub const USER_SECRET: &str = "test-user-secret";
pub const ADMIN_KEY: &str = "test-admin-key";
pub const ADMIN_SECRET: &str = "test-admin-secret";

/// Characters Java's URLEncoder leaves alone: letters, digits and `.-*_`.
const JAVA_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'*')
    .remove(b'_');

/// Reference signer written from the documented algorithm.
pub fn reference_signature(secret: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let query = sorted
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, JAVA_SAFE)))
        .collect::<Vec<_>>()
        .join("&")
        .to_lowercase();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(query.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub fn config() -> SimConfig {
    SimConfig {
        user_api_key: USER_KEY.into(),
        user_secret: USER_SECRET.into(),
        admin_api_key: ADMIN_KEY.into(),
        admin_secret: ADMIN_SECRET.into(),
        job_duration: Duration::from_millis(20),
        expunge_delay: Duration::from_millis(60),
        ..SimConfig::default()
    }
}

pub async fn spawn(config: SimConfig) -> SimHandle {
    Sim::spawn(config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// An emulator driven by a manual clock: jobs and expunges happen only when the test advances
/// time.
pub async fn spawn_manual() -> (SimHandle, Arc<ManualClock>) {
    let clock = ManualClock::new();
    let handle = spawn(SimConfig {
        clock: clock.clone(),
        job_duration: Duration::from_secs(2),
        expunge_delay: Duration::from_secs(30),
        ..config()
    })
    .await;
    (handle, clock)
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub description: Option<String>,
    pub content_type: Option<String>,
}

impl Reply {
    /// The object under the single top-level key.
    pub fn inner(&self) -> &Value {
        self.body
            .as_object()
            .and_then(|o| o.values().next())
            .expect("envelope has one key")
    }

    pub fn key(&self) -> String {
        self.body
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default()
    }

    pub fn errortext(&self) -> String {
        self.inner()["errortext"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    pub url: String,
    pub key: String,
    pub secret: String,
    pub http: reqwest::Client,
}

impl Client {
    pub fn user(handle: &SimHandle) -> Self {
        Self::new(handle, USER_KEY, USER_SECRET)
    }

    pub fn admin(handle: &SimHandle) -> Self {
        Self::new(handle, ADMIN_KEY, ADMIN_SECRET)
    }

    pub fn new(handle: &SimHandle, key: &str, secret: &str) -> Self {
        Self {
            url: handle.url(),
            key: key.into(),
            secret: secret.into(),
            http: reqwest::Client::new(),
        }
    }

    pub fn signed(&self, command: &str, params: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = vec![
            ("command".into(), command.into()),
            ("response".into(), "json".into()),
            ("apikey".into(), self.key.clone()),
        ];
        all.extend(
            params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let signature = reference_signature(&self.secret, &all);
        all.push(("signature".into(), signature));
        all
    }

    pub async fn send_raw(&self, post: bool, params: Vec<(String, String)>) -> Reply {
        let request = if post {
            self.http.post(&self.url).form(&params)
        } else {
            let query = params
                .iter()
                .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, JAVA_SAFE)))
                .collect::<Vec<_>>()
                .join("&");
            self.http.get(format!("{}?{query}", self.url))
        };
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let description = response
            .headers()
            .get("X-Description")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.expect("body read");
        let body: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
        Reply {
            status,
            body,
            description,
            content_type,
        }
    }

    /// Signed GET.
    pub async fn get(&self, command: &str, params: &[(&str, &str)]) -> Reply {
        self.send_raw(false, self.signed(command, params)).await
    }

    /// Signed POST form.
    pub async fn post(&self, command: &str, params: &[(&str, &str)]) -> Reply {
        self.send_raw(true, self.signed(command, params)).await
    }

    /// Signed call that must succeed; returns the inner body.
    pub async fn ok(&self, command: &str, params: &[(&str, &str)]) -> Value {
        let reply = self.post(command, params).await;
        assert_eq!(reply.status, 200, "{command} failed: {}", reply.body);
        assert_eq!(reply.key(), format!("{}response", command.to_lowercase()));
        reply.inner().clone()
    }

    /// Signed call that must fail with `status`; returns the error text.
    pub async fn err(&self, command: &str, params: &[(&str, &str)], status: u16) -> String {
        let reply = self.post(command, params).await;
        assert_eq!(
            reply.status, status,
            "{command}: unexpected answer {}",
            reply.body
        );
        assert_eq!(reply.inner()["errorcode"], status);
        reply.errortext()
    }

    /// Polls a job with backoff until it finishes or a deadline passes.
    pub async fn wait_job(&self, job_id: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let mut delay = Duration::from_millis(5);
        loop {
            let result = self.ok("queryAsyncJobResult", &[("jobid", job_id)]).await;
            if result["jobstatus"] != 0 {
                return result;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {job_id} never finished"
            );
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(100));
        }
    }

    /// Submits an async command and waits for success; returns `jobresult`.
    pub async fn run(&self, command: &str, params: &[(&str, &str)]) -> Value {
        let submit = self.ok(command, params).await;
        let job_id = submit["jobid"].as_str().expect("jobid").to_owned();
        let result = self.wait_job(&job_id).await;
        assert_eq!(result["jobstatus"], 1, "{command} job failed: {result}");
        result["jobresult"].clone()
    }

    /// Submits an async command and expects its job to fail; returns `jobresult`.
    pub async fn run_failing(&self, command: &str, params: &[(&str, &str)]) -> Value {
        let submit = self.ok(command, params).await;
        let job_id = submit["jobid"].as_str().expect("jobid").to_owned();
        let result = self.wait_job(&job_id).await;
        assert_eq!(
            result["jobstatus"], 2,
            "{command} job should fail: {result}"
        );
        result
    }

    /// Deploys a small VM on the isolated network and waits for it.
    pub async fn deploy(&self, extra: &[(&str, &str)]) -> Value {
        let mut params = vec![
            ("serviceofferingid", cloudstack_sim::ids::SO_SMALL),
            ("templateid", cloudstack_sim::ids::TEMPLATE),
            ("zoneid", cloudstack_sim::ids::ZONE),
        ];
        params.extend_from_slice(extra);
        self.run("deployVirtualMachine", &params).await["virtualmachine"].clone()
    }
}

/// Checks that `actual` has every key of `expected` with the same JSON type, recursively
/// through objects and the first element of arrays.
pub fn assert_same_shape(expected: &Value, actual: &Value, path: &str) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                let child = a
                    .get(key)
                    .unwrap_or_else(|| panic!("missing key {path}.{key} in {actual}"));
                assert_same_shape(value, child, &format!("{path}.{key}"));
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(e0), Some(a0)) = (e.first(), a.first()) {
                assert_same_shape(e0, a0, &format!("{path}[0]"));
            }
        }
        (Value::Number(_), Value::Number(_))
        | (Value::String(_), Value::String(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, _) => {}
        _ => panic!("type mismatch at {path}: expected like {expected}, got {actual}"),
    }
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
