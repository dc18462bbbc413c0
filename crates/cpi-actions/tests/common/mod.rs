//! In-process fixture for action tests: a real emulator over real HTTP, a real SQLite store in
//! a temporary directory, and a [`Cpi`] configured against both.
//!
//! Black-box tests through the real shim and daemon live in `daemon/tests/`; these tests drive
//! [`Cpi::handle`] directly so that each action's behaviour can be checked against the
//! emulator's state without process start-up costs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use cloudstack_sim::{Sim, SimConfig, SimHandle};
use cpi_actions::Cpi;
use cpi_config::Config;
use cpi_protocol::{Request, Response};
use serde_json::{Value, json};
use tempfile::TempDir;

pub struct Fixture {
    pub sim: SimHandle,
    pub cpi: Cpi,
    pub dir: TempDir,
    pub config: Value,
}

pub struct FixtureBuilder {
    sim_config: SimConfig,
    config_patch: Value,
}

impl Fixture {
    pub fn builder() -> FixtureBuilder {
        FixtureBuilder {
            sim_config: SimConfig {
                job_duration: Duration::from_millis(20),
                expunge_delay: Duration::from_millis(300),
                ..SimConfig::default()
            },
            config_patch: json!({}),
        }
    }

    pub async fn start() -> Fixture {
        Fixture::builder().start().await
    }

    /// Sends one director-shaped request (api_version 2, v2 stemcell) and returns the response.
    pub async fn call(&self, method: &str, arguments: Value) -> Response {
        self.call_with(
            method,
            arguments,
            json!({"director_uuid": "director-1", "request_id": "cpi-100001",
            "vm": {"stemcell": {"api_version": 2}}}),
            2,
        )
        .await
    }

    /// Sends one request with the given context and api_version.
    pub async fn call_with(
        &self,
        method: &str,
        arguments: Value,
        context: Value,
        api_version: u32,
    ) -> Response {
        let document = json!({"method": method, "arguments": arguments, "context": context, "api_version": api_version});
        let request =
            Request::parse(document.to_string().as_bytes()).expect("test requests are well formed");
        Response::from_outcome(self.cpi.handle(&request).await, String::new())
    }

    /// Calls and expects success, returning the result.
    pub async fn ok(&self, method: &str, arguments: Value) -> Value {
        let response = self.call(method, arguments).await;
        assert!(
            response.error.is_none(),
            "{method} failed: {:?}",
            response.error
        );
        response.result
    }

    /// Calls and expects an error, returning (type, message, ok_to_retry).
    pub async fn err(&self, method: &str, arguments: Value) -> (String, String, bool) {
        let response = self.call(method, arguments).await;
        let error = response
            .error
            .unwrap_or_else(|| panic!("{method} unexpectedly succeeded: {}", response.result));
        (error.kind, error.message, error.ok_to_retry)
    }
}

impl FixtureBuilder {
    pub fn sim(mut self, f: impl FnOnce(&mut SimConfig)) -> Self {
        f(&mut self.sim_config);
        self
    }

    /// Merges a JSON patch into the CPI configuration (objects merge, other values replace).
    pub fn config(mut self, patch: Value) -> Self {
        merge(&mut self.config_patch, patch);
        self
    }

    pub async fn start(self) -> Fixture {
        let sim = Sim::spawn(
            self.sim_config.clone(),
            "127.0.0.1:0".parse().expect("loopback address"),
        )
        .await
        .expect("the emulator starts");
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = json!({
            "cloudstack": {
                "endpoint": sim.url(),
                "api_key": self.sim_config.user_api_key,
                "secret_access_key": secrecy::ExposeSecret::expose_secret(&self.sim_config.user_secret),
                "default_zone": "zone1",
                "async_job_timeout": 30,
                "ip_release_timeout": 10,
                "default_offer": {"disk": "custom", "ephemeral_disk": "custom", "custom_disk": "custom"}
            },
            "daemon": {"state_dir": dir.path().to_str().expect("utf-8 temp path")},
            "agent": {"mbus": "nats://nats:nats-password@10.0.0.6:4222", "ntp": ["0.pool.ntp.org"],
                      "blobstore": {"provider": "dav", "options": {"endpoint": "http://10.0.0.6:25250", "user": "agent", "password": "blob-password"}}}
        });
        merge(&mut config, self.config_patch);
        let parsed = Config::from_value(config.clone()).expect("the test configuration is valid");
        let url = secrecy::ExposeSecret::expose_secret(&parsed.database_url()).to_owned();
        let store = cpi_store::connect(&url)
            .await
            .expect("the SQLite store opens");
        let cpi = Cpi::new(Arc::new(parsed), store);
        Fixture {
            sim,
            cpi,
            dir,
            config,
        }
    }
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (base, patch) => *base = patch,
    }
}
