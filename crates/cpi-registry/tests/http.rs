//! The registry over real HTTP, against both store backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use cpi_registry::{RegistryConfig, RegistryState, mint_vm_credential};
use cpi_store::Store;
use cpi_store::pg_test::TempCluster;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const OPERATOR: (&str, &str) = ("registry-admin", "operator-pass");

/// Keeps a backend alive and serves the registry on an ephemeral port.
struct Harness {
    base: String,
    store: Arc<dyn Store>,
    state: RegistryState,
    client: reqwest::Client,
    cluster: Option<TempCluster>,
    _dir: Option<tempfile::TempDir>,
    _shutdown: oneshot::Sender<()>,
}

impl Harness {
    async fn sqlite(body_limit: Option<usize>) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/registry.db", dir.path().display());
        let store = cpi_store::connect(&url).await.unwrap();
        Harness::serve(store, None, Some(dir), body_limit).await
    }

    async fn postgres(body_limit: Option<usize>) -> Harness {
        let cluster = tokio::task::spawn_blocking(TempCluster::start)
            .await
            .unwrap()
            .unwrap();
        let url = cluster.create_database().await.unwrap();
        let options = cpi_store::StoreOptions {
            acquire_timeout: std::time::Duration::from_millis(800),
            ..Default::default()
        };
        let store = cpi_store::connect_with(&url, &options).await.unwrap();
        Harness::serve(store, Some(cluster), None, body_limit).await
    }

    async fn serve(
        store: Arc<dyn Store>,
        cluster: Option<TempCluster>,
        dir: Option<tempfile::TempDir>,
        body_limit: Option<usize>,
    ) -> Harness {
        let mut config = RegistryConfig::new(OPERATOR.0, SecretString::from(OPERATOR.1));
        if let Some(limit) = body_limit {
            config.body_limit = limit;
        }
        let state = RegistryState::new(store.clone(), &config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(cpi_registry::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        Harness {
            base,
            store,
            state,
            client: reqwest::Client::new(),
            cluster,
            _dir: dir,
            _shutdown: shutdown,
        }
    }

    fn settings_url(&self, id: &str) -> String {
        format!("{}/instances/{id}/settings", self.base)
    }

    async fn put(&self, id: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .put(self.settings_url(id))
            .basic_auth(OPERATOR.0, Some(OPERATOR.1))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn get_as(&self, id: &str, user: &str, password: &str) -> reqwest::Response {
        self.client
            .get(self.settings_url(id))
            .basic_auth(user, Some(password))
            .send()
            .await
            .unwrap()
    }
}

async fn json_body(response: reqwest::Response) -> Value {
    response.json().await.unwrap()
}

macro_rules! both_backends {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Harness::sqlite(None).await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Harness::postgres(None).await).await;
                }
            )+
        }
    };
}

both_backends!(
    operator_puts_gets_and_deletes,
    missing_or_wrong_credentials_get_401,
    vm_credential_reads_only_its_own_settings,
    invalid_json_is_rejected,
    ten_mib_body_is_refused,
    health_and_metrics,
);

async fn operator_puts_gets_and_deletes(h: Harness) {
    // Stored verbatim: odd spacing and key order survive the round trip.
    let raw = "{ \"agent_id\" : \"agent-1\",\"z\":1, \"a\": [1,2] }";
    let response = h.put("vm-1", raw).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await, json!({"status": "ok"}));

    let response = h.get_as("vm-1", OPERATOR.0, OPERATOR.1).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(body["status"], "ok");
    assert_eq!(body["settings"].as_str().unwrap(), raw);
    assert_eq!(
        h.store
            .get_settings("vm-1")
            .await
            .unwrap()
            .unwrap()
            .agent_id,
        "agent-1"
    );

    let response = h.put("vm-1", "{\"agent_id\":\"agent-1\",\"v\":2}").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(h.get_as("vm-1", OPERATOR.0, OPERATOR.1).await).await;
    assert_eq!(body["settings"], "{\"agent_id\":\"agent-1\",\"v\":2}");

    let delete = |id: &str| {
        h.client
            .delete(h.settings_url(id))
            .basic_auth(OPERATOR.0, Some(OPERATOR.1))
            .send()
    };
    let response = delete("vm-1").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await, json!({"status": "ok"}));
    let response = h.get_as("vm-1", OPERATOR.0, OPERATOR.1).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(json_body(response).await, json!({"status": "not_found"}));
    // Deleting a missing instance is not an error.
    assert_eq!(delete("vm-1").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        h.get_as("never-existed", OPERATOR.0, OPERATOR.1)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

fn assert_access_denied(response: &reqwest::Response) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Basic realm=\"Bosh Registry\""
    );
}

async fn missing_or_wrong_credentials_get_401(h: Harness) {
    h.put("vm-1", "{}").await;
    let anonymous = h.client.get(h.settings_url("vm-1")).send().await.unwrap();
    assert_access_denied(&anonymous);
    assert_eq!(
        json_body(anonymous).await,
        json!({"status": "access_denied"})
    );

    assert_access_denied(&h.get_as("vm-1", OPERATOR.0, "wrong").await);
    assert_access_denied(&h.get_as("vm-1", "someone", OPERATOR.1).await);
    // Unknown instance without valid credentials: 401, so existence is not revealed.
    assert_access_denied(&h.get_as("nope", "nope", "x").await);

    let garbage = h
        .client
        .get(h.settings_url("vm-1"))
        .header("authorization", "Basic %%%")
        .send()
        .await
        .unwrap();
    assert_access_denied(&garbage);
    let anonymous_put = h
        .client
        .put(h.settings_url("vm-1"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_access_denied(&anonymous_put);
    let anonymous_delete = h
        .client
        .delete(h.settings_url("vm-1"))
        .send()
        .await
        .unwrap();
    assert_access_denied(&anonymous_delete);
    assert!(h.store.get_settings("vm-1").await.unwrap().is_some());
}

async fn vm_credential_reads_only_its_own_settings(h: Harness) {
    h.put("vm-a", "{\"agent_id\":\"a\",\"secret\":\"mbus-a\"}")
        .await;
    h.put("vm-b", "{\"agent_id\":\"b\",\"secret\":\"mbus-b\"}")
        .await;
    let a = mint_vm_credential(h.store.as_ref(), "vm-a").await.unwrap();
    let b = mint_vm_credential(h.store.as_ref(), "vm-b").await.unwrap();
    let a_pass = a.password.expose_secret();
    assert_eq!(a.username, "vm-a");
    assert_eq!(a_pass.len(), 43, "32 random bytes in unpadded base64url");
    assert_ne!(a_pass, b.password.expose_secret());
    // Only the hash is stored.
    let stored = h.store.credential_hash("vm-a").await.unwrap().unwrap();
    assert!(!stored.contains(a_pass));
    assert_eq!(stored, cpi_registry::hash_password(a_pass));

    let own = h.get_as("vm-a", "vm-a", a_pass).await;
    assert_eq!(own.status(), StatusCode::OK);
    assert!(
        json_body(own).await["settings"]
            .as_str()
            .unwrap()
            .contains("mbus-a")
    );

    // A's credential against B's settings, with either username.
    assert_access_denied(&h.get_as("vm-b", "vm-a", a_pass).await);
    assert_access_denied(&h.get_as("vm-b", "vm-b", a_pass).await);
    // A VM credential cannot write or delete, even its own settings.
    let put = h
        .client
        .put(h.settings_url("vm-a"))
        .basic_auth("vm-a", Some(a_pass))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_access_denied(&put);
    let delete = h
        .client
        .delete(h.settings_url("vm-a"))
        .basic_auth("vm-a", Some(a_pass))
        .send()
        .await
        .unwrap();
    assert_access_denied(&delete);
    assert!(h.store.get_settings("vm-a").await.unwrap().is_some());

    // The operator reads everything.
    let operator = h.get_as("vm-b", OPERATOR.0, OPERATOR.1).await;
    assert_eq!(operator.status(), StatusCode::OK);

    // Minting again (through the registry, which drops its cached entry) revokes the old
    // credential at once.
    let a2 = h.state.mint_vm_credential("vm-a").await.unwrap();
    assert_access_denied(&h.get_as("vm-a", "vm-a", a_pass).await);
    let renewed = h.get_as("vm-a", "vm-a", a2.password.expose_secret()).await;
    assert_eq!(renewed.status(), StatusCode::OK);

    // A VM whose credential exists but whose settings are gone gets 404.
    let c = h.state.mint_vm_credential("vm-c").await.unwrap();
    let missing = h.get_as("vm-c", "vm-c", c.password.expose_secret()).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

async fn invalid_json_is_rejected(h: Harness) {
    let response = h.put("vm-1", "{not json").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json_body(response).await;
    assert_eq!(body["status"], "bad_request");
    assert!(body["error"].as_str().unwrap().contains("not valid JSON"));
    let response = h.put("vm-1", vec![0xff_u8, 0xfe]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(h.store.get_settings("vm-1").await.unwrap().is_none());

    let long_id = "x".repeat(600);
    let response = h.get_as(&long_id, OPERATOR.0, OPERATOR.1).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

async fn ten_mib_body_is_refused(h: Harness) {
    let blob = "y".repeat(10 * 1024 * 1024);
    let body = format!("{{\"agent_id\":\"a\",\"blob\":\"{blob}\"}}");
    let response = h.put("vm-big", body).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_body(response).await["status"], "too_large");
    assert!(h.store.get_settings("vm-big").await.unwrap().is_none());

    // Just under the 1 MiB default passes.
    let blob = "z".repeat(1024 * 1024 - 100);
    let response = h.put("vm-big", format!("{{\"blob\":\"{blob}\"}}")).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn health_and_metrics(h: Harness) {
    let health = h
        .client
        .get(format!("{}/healthz", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    h.get_as("vm-x", OPERATOR.0, "wrong").await;
    h.get_as("vm-x", OPERATOR.0, OPERATOR.1).await;
    let metrics = h
        .client
        .get(format!("{}/metrics", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    let line_401 = text
        .lines()
        .find(|l| l.starts_with("registry_requests_total") && l.contains("status=\"401\""))
        .unwrap_or_else(|| panic!("no 401 counter in:\n{text}"));
    assert!(
        line_401.contains("route=\"/instances/{id}/settings\""),
        "{line_401}"
    );
    assert!(line_401.contains("method=\"GET\""), "{line_401}");
    assert!(line_401.ends_with(" 1"), "{line_401}");
    assert!(text.contains("status=\"404\""), "{text}");
    assert!(text.contains("route=\"/healthz\""), "{text}");
}

#[tokio::test]
async fn small_body_limit_is_configurable() {
    let h = Harness::sqlite(Some(64)).await;
    assert_eq!(
        h.put("vm-1", format!("{{\"a\":\"{}\"}}", "b".repeat(40)))
            .await
            .status(),
        StatusCode::OK
    );
    let response = h
        .put("vm-1", format!("{{\"a\":\"{}\"}}", "b".repeat(80)))
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn store_failure_gives_500_without_internals() {
    let h = Harness::sqlite(None).await;
    h.put("vm-1", "{}").await;
    h.store.close().await;
    let response = h.get_as("vm-1", OPERATOR.0, OPERATOR.1).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = response.text().await.unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        json!({"status": "error"})
    );
    let health = h
        .client
        .get(format!("{}/healthz", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_survives_a_postgres_restart() {
    let h = Harness::postgres(None).await;
    let vm = mint_vm_credential(h.store.as_ref(), "vm-1").await.unwrap();
    h.put("vm-1", "{\"agent_id\":\"a\"}").await;
    let cluster = h.cluster.as_ref().unwrap();

    cluster.stop().unwrap();
    let during = h.get_as("vm-1", OPERATOR.0, OPERATOR.1).await;
    assert_eq!(during.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json_body(during).await, json!({"status": "error"}));
    let during_vm = h.get_as("vm-1", "vm-1", vm.password.expose_secret()).await;
    assert_eq!(during_vm.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let health = h
        .client
        .get(format!("{}/healthz", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);

    cluster.resume().unwrap();
    let after = h.get_as("vm-1", "vm-1", vm.password.expose_secret()).await;
    assert_eq!(after.status(), StatusCode::OK);
    let health = h
        .client
        .get(format!("{}/healthz", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn direct_store_changes_show_at_once() {
    let h = Harness::sqlite(None).await;
    h.put("vm-1", "{\"v\":1}").await;
    let body = json_body(h.get_as("vm-1", OPERATOR.0, OPERATOR.1).await).await;
    assert_eq!(body["settings"], "{\"v\":1}");
    // An edit made directly in the same store object (as attach_disk does in the daemon) is
    // served by the very next read: the cached entry carries a stale settings generation.
    h.store
        .update_settings("vm-1", Box::new(|_| Ok(json!({"v": 2}))))
        .await
        .unwrap();
    let body = json_body(h.get_as("vm-1", OPERATOR.0, OPERATOR.1).await).await;
    assert_eq!(body["settings"], "{\"v\":2}");
    // A PUT through the registry is visible at once.
    h.put("vm-1", "{\"v\":3}").await;
    let body = json_body(h.get_as("vm-1", OPERATOR.0, OPERATOR.1).await).await;
    assert_eq!(body["settings"], "{\"v\":3}");
}
