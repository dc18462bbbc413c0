//! Building the response document.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{CpiError, ErrorKind};

/// The response document: `{"result": …, "error": …, "log": "…"}`.
///
/// All three keys are always serialised (`error` as `null` on success), `log` is always a
/// string and `ok_to_retry` always a boolean, as the director's response schema requires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub result: Value,
    pub error: Option<ResponseError>,
    pub log: String,
}

/// The `error` object of a failed call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseError {
    /// A `Bosh::Clouds::*` class name.
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
    pub ok_to_retry: bool,
}

impl ResponseError {
    /// The known kind, if the `type` is one the director knows.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        ErrorKind::from_wire_name(&self.kind)
    }
}

impl Response {
    /// The one place where an outcome becomes a response.
    pub fn from_outcome(outcome: Result<Value, CpiError>, log: String) -> Response {
        match outcome {
            Ok(result) => Response {
                result,
                error: None,
                log,
            },
            Err(error) => Response {
                result: Value::Null,
                error: Some(ResponseError {
                    kind: error.kind.wire_name().to_owned(),
                    message: error.message,
                    ok_to_retry: error.ok_to_retry,
                }),
                log,
            },
        }
    }

    /// The response as one line of JSON followed by a newline.
    pub fn to_json_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_else(|error| {
            // Serialising plain JSON values cannot fail; this fallback keeps the promise of
            // always printing a valid document should that ever change.
            format!(
                r#"{{"result":null,"error":{{"type":"Bosh::Clouds::CpiError","message":"failed to serialise the response: {}","ok_to_retry":false}},"log":""}}"#,
                error.to_string().replace(['"', '\\'], "'")
            )
        });
        line.push('\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn success_has_all_three_keys_with_null_error() {
        let line = Response::from_outcome(Ok(json!("pong")), String::new()).to_json_line();
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value, json!({"result": "pong", "error": null, "log": ""}));
    }

    #[test]
    fn every_error_kind_maps_to_its_director_class() {
        for kind in ErrorKind::ALL {
            let response =
                Response::from_outcome(Err(CpiError::retryable(kind, "boom")), "l".to_owned());
            let value: Value = serde_json::from_str(&response.to_json_line()).unwrap();
            assert_eq!(value["result"], Value::Null);
            assert_eq!(value["error"]["type"], kind.wire_name());
            assert!(
                value["error"]["type"]
                    .as_str()
                    .unwrap()
                    .starts_with("Bosh::Clouds::")
            );
            assert_eq!(value["error"]["ok_to_retry"], true);
            assert_eq!(value["log"], "l");
            assert_eq!(ErrorKind::from_wire_name(kind.wire_name()), Some(kind));
        }
        assert_eq!(
            ErrorKind::VmNotFound.wire_name(),
            "Bosh::Clouds::VMNotFound"
        );
        assert_eq!(
            ErrorKind::VmCreationFailed.wire_name(),
            "Bosh::Clouds::VMCreationFailed"
        );
    }

    #[test]
    fn unknown_method_becomes_not_implemented_with_the_director_text() {
        let error: CpiError = crate::ProtocolError::UnknownMethod("nope".to_owned()).into();
        assert_eq!(error.kind, ErrorKind::NotImplemented);
        assert_eq!(error.message, "Method is not known, got: 'nope'");
        assert!(!error.ok_to_retry);
    }
}
