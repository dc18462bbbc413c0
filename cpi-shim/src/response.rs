//! CPI response documents: the shim's own error answers and the check of the daemon's reply.

use crate::json::{self, Json};

/// The two error types the shim itself answers with; both are in the director's
/// `KNOWN_RPC_ERRORS`, so they reach the operator with their message intact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The request itself was unusable (empty, too large).
    CpiError,
    /// The CPI could not do its work (config unreadable, daemon unreachable or misbehaving).
    CloudError,
}

impl ErrorType {
    fn wire_name(self) -> &'static str {
        match self {
            ErrorType::CpiError => "Bosh::Clouds::CpiError",
            ErrorType::CloudError => "Bosh::Clouds::CloudError",
        }
    }
}

/// Renders `{"result":null,"error":{...},"log":""}` followed by a newline.
pub fn error_document(kind: ErrorType, message: &str) -> Vec<u8> {
    let mut out = String::from("{\"result\":null,\"error\":{\"type\":");
    json::write_string(&mut out, kind.wire_name());
    out.push_str(",\"message\":");
    json::write_string(&mut out, message);
    out.push_str(",\"ok_to_retry\":false},\"log\":\"\"}\n");
    out.into_bytes()
}

/// Checks the director's response schema: one object with `result` (any value), `error` (null or
/// an object with string `type`, string `message`, boolean `ok_to_retry`) and string `log`.
pub fn validate(reply: &[u8]) -> Result<(), String> {
    let document = json::parse(reply).map_err(|e| {
        if e.offset >= reply.len() {
            format!("truncated JSON ({e}); was the daemon stopped or killed during the call?")
        } else {
            format!("not JSON: {e}")
        }
    })?;
    if !matches!(document, Json::Object(_)) {
        return Err(format!(
            "expected a JSON object, got {}",
            document.type_name()
        ));
    }
    if document.get("result").is_none() {
        return Err("the key 'result' is missing".into());
    }
    match document.get("log") {
        Some(Json::String(_)) => {}
        None => return Err("the key 'log' is missing".into()),
        Some(other) => return Err(format!("'log' must be a string, got {}", other.type_name())),
    }
    match document.get("error") {
        None => Err("the key 'error' is missing".into()),
        Some(Json::Null) => Ok(()),
        Some(error @ Json::Object(_)) => {
            for key in ["type", "message"] {
                match error.get(key) {
                    Some(Json::String(_)) => {}
                    None => return Err(format!("'error.{key}' is missing")),
                    Some(other) => {
                        return Err(format!(
                            "'error.{key}' must be a string, got {}",
                            other.type_name()
                        ));
                    }
                }
            }
            match error.get("ok_to_retry") {
                Some(Json::Bool(_)) => Ok(()),
                None => Err("'error.ok_to_retry' is missing".into()),
                Some(other) => Err(format!(
                    "'error.ok_to_retry' must be a boolean, got {}",
                    other.type_name()
                )),
            }
        }
        Some(other) => Err(format!(
            "'error' must be null or an object, got {}",
            other.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_pass_the_schema_and_escape_the_message() {
        let document = error_document(ErrorType::CloudError, "socket \"/x\"\nsee log");
        validate(&document).unwrap();
        let parsed = json::parse(&document).unwrap();
        let error = parsed.get("error").unwrap();
        assert_eq!(
            error.get("type"),
            Some(&Json::String("Bosh::Clouds::CloudError".into()))
        );
        assert_eq!(
            error.get("message"),
            Some(&Json::String("socket \"/x\"\nsee log".into()))
        );
        assert_eq!(error.get("ok_to_retry"), Some(&Json::Bool(false)));
        assert_eq!(parsed.get("result"), Some(&Json::Null));
        assert!(document.ends_with(b"}\n"));
        let cpi = error_document(ErrorType::CpiError, "m");
        assert!(
            String::from_utf8(cpi)
                .unwrap()
                .contains("Bosh::Clouds::CpiError")
        );
    }

    #[test]
    fn accepts_success_and_error_replies() {
        validate(br#"{"result":{"api_version":2},"error":null,"log":""}"#).unwrap();
        validate(
            br#"{"result":null,"error":{"type":"T","message":"m","ok_to_retry":true},"log":"l"}"#,
        )
        .unwrap();
    }

    #[test]
    fn names_what_is_wrong_with_a_bad_reply() {
        let cases: [(&[u8], &str); 10] = [
            (b"garbage", "not JSON"),
            (br#"{"result":{"#, "truncated JSON"),
            (b"[1]", "expected a JSON object, got an array"),
            (br#"{"error":null,"log":""}"#, "'result' is missing"),
            (br#"{"result":1,"log":""}"#, "'error' is missing"),
            (br#"{"result":1,"error":null}"#, "'log' is missing"),
            (
                br#"{"result":1,"error":null,"log":null}"#,
                "'log' must be a string",
            ),
            (
                br#"{"result":1,"error":"x","log":""}"#,
                "'error' must be null or an object",
            ),
            (
                br#"{"result":1,"error":{"type":"T","message":"m","ok_to_retry":"no"},"log":""}"#,
                "'error.ok_to_retry' must be a boolean",
            ),
            (
                br#"{"result":1,"error":{"message":"m","ok_to_retry":false},"log":""}"#,
                "'error.type' is missing",
            ),
        ];
        for (reply, expected) in cases {
            let error = validate(reply).unwrap_err();
            assert!(
                error.contains(expected),
                "{error} should contain {expected}"
            );
        }
    }
}
