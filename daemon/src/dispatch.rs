//! From request bytes to a response: parsing, the request span with its captured log, and
//! the hand-over to [`Cpi::handle`].
//!
//! [`handle_request`] is shared by the socket server and `cpid oneshot`, so both answer every
//! request identically.

use cpi_actions::Cpi;
use serde_json::Value;
use tracing::Instrument;

use cpi_protocol::{CpiError, Request, Response};

use crate::log_capture::{CapturedLog, REQUEST_SPAN};

/// A request id for callers that send none (bosh-cli), so log lines can still be correlated.
fn generated_request_id() -> String {
    format!("cpid-{}", uuid::Uuid::new_v4().simple())
}

/// Parses and runs one request inside its own span, returning the response with that request's
/// log lines in `log`.
pub async fn handle_request(bytes: &[u8], cpi: &Cpi) -> Response {
    let parsed = Request::parse(bytes);
    let (request_id, method) = match &parsed {
        Ok(request) => (
            request.context.request_id.clone(),
            request.method.name().as_str().to_owned(),
        ),
        Err(failure) => (
            failure.request_id.clone(),
            failure.method.clone().unwrap_or_default(),
        ),
    };
    let request_id = request_id
        .filter(|id| !id.is_empty())
        .unwrap_or_else(generated_request_id);
    let span = tracing::info_span!(REQUEST_SPAN, request_id = %request_id, method = %method);
    let captured = CapturedLog::attach(&span, format!("request_id={request_id} method={method}: "));
    let outcome = async {
        match parsed {
            Ok(request) => {
                tracing::info!(api_version = request.api_version.get(), "Handling request.");
                let outcome: Result<Value, CpiError> = cpi.handle(&request).await;
                match &outcome {
                    Ok(_) => tracing::info!("Request succeeded."),
                    Err(error) => tracing::warn!(%error, "Request failed."),
                }
                outcome
            }
            Err(failure) => {
                let error = CpiError::from(failure.error);
                tracing::warn!(%error, "Refused the request.");
                Err(error)
            }
        }
    }
    .instrument(span)
    .await;
    Response::from_outcome(outcome, captured.contents())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpi_protocol::ErrorKind;

    use serde_json::json;

    /// A CPI whose CloudStack endpoint and database are never reached: `info`, `ping` and
    /// refused requests must not need them.
    fn cpi() -> Cpi {
        let config = cpi_config::Config::from_value(json!({
            "cloudstack": {"endpoint": "http://127.0.0.1:9/client/api", "api_key": "k",
                           "secret_access_key": "s", "default_zone": "z",
                           "hypervisors": ["XenServer", "KVM"]},
            "daemon": {"state_dir": "/nonexistent/cpid-test", "database_url": "sqlite:///nonexistent/cpid-test/db"}
        }))
        .unwrap();
        Cpi::with_lazy_store(std::sync::Arc::new(config))
    }

    async fn call(text: &str) -> Response {
        handle_request(text.as_bytes(), &cpi()).await
    }

    fn error_kind(response: &Response) -> ErrorKind {
        response
            .error
            .as_ref()
            .and_then(|e| e.error_kind())
            .unwrap()
    }

    #[tokio::test]
    async fn info_reports_api_version_and_formats_for_every_director_version() {
        for version in [
            "",
            r#","api_version":1"#,
            r#","api_version":2"#,
            r#","api_version":3"#,
        ] {
            let response = call(&format!(
                r#"{{"method":"info","arguments":[],"context":{{"director_uuid":"d"}}{version}}}"#
            ))
            .await;
            assert_eq!(response.error, None);
            assert_eq!(
                response.result,
                json!({"api_version": 2, "stemcell_formats": ["cloudstack-vhdx", "cloudstack-qcow2"]})
            );
        }
    }

    #[tokio::test]
    async fn ping_answers_pong() {
        let response = call(r#"{"method":"ping","arguments":[],"context":{}}"#).await;
        assert_eq!(response.result, json!("pong"));
        assert_eq!(response.error, None);
    }

    #[tokio::test]
    async fn unknown_methods_are_not_implemented_with_the_director_text() {
        let response = call(r#"{"method":"make_coffee","arguments":[],"context":{}}"#).await;
        assert_eq!(error_kind(&response), ErrorKind::NotImplemented);
        assert_eq!(
            response.error.unwrap().message,
            "Method is not known, got: 'make_coffee'"
        );
    }

    #[tokio::test]
    async fn an_unreachable_database_is_a_cloud_error_naming_it() {
        let response =
            call(r#"{"method":"has_vm","arguments":["vm-1"],"context":{},"api_version":2}"#).await;
        assert_eq!(error_kind(&response), ErrorKind::CloudError);
        assert!(
            response
                .error
                .unwrap()
                .message
                .contains("connecting to the database")
        );
    }

    #[tokio::test]
    async fn malformed_requests_are_cpi_errors_naming_the_problem() {
        let cases = [
            ("{not json", "not valid JSON"),
            (r#"{"method":"has_vm","arguments":[7]}"#, "has_vm"),
            (r#"{"method":"info","api_version":9}"#, "api_version 9"),
            ("[]", "the document is a list"),
        ];
        for (text, expected) in cases {
            let response = call(text).await;
            assert_eq!(error_kind(&response), ErrorKind::CpiError, "{text}");
            let message = response.error.unwrap().message;
            assert!(
                message.contains(expected),
                "{message} should contain {expected}"
            );
        }
    }
}
