//! Parsing the request document.

use serde_json::Value;

use crate::network::json_type;
use crate::{Context, Method, ProtocolError};

/// The largest request this CPI accepts. Real requests are a few KB; `create_vm` with a
/// director `env` holding mbus certificates stays well under 100 KB. The limit only exists so
/// that a runaway caller cannot make the daemon buffer unbounded input.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;

/// The CPI API version the caller speaks (top-level `api_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion(u32);

impl ApiVersion {
    pub const V1: ApiVersion = ApiVersion(1);
    pub const V2: ApiVersion = ApiVersion(2);
    pub const V3: ApiVersion = ApiVersion(3);

    pub fn new(version: u64) -> Result<Self, ProtocolError> {
        match version {
            1..=3 => Ok(ApiVersion(version as u32)),
            other => Err(ProtocolError::UnsupportedApiVersion(other)),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// From v2 on, `create_vm` returns `[cid, networks]` and `attach_disk` returns a hint.
    pub fn is_v2_or_later(self) -> bool {
        self.0 >= 2
    }
}

impl Default for ApiVersion {
    /// Requests without `api_version` come from v1 callers.
    fn default() -> Self {
        ApiVersion::V1
    }
}

/// A parsed CPI request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub method: Method,
    pub context: Context,
    pub api_version: ApiVersion,
}

/// A request that could not be parsed, with whatever could be read of it so the error
/// response and the logs can still name the method and the request id.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseFailure {
    pub method: Option<String>,
    pub request_id: Option<String>,
    pub error: ProtocolError,
}

impl Request {
    /// Parses one request document.
    pub fn parse(bytes: &[u8]) -> Result<Request, ParseFailure> {
        let fail = |error| ParseFailure {
            method: None,
            request_id: None,
            error,
        };
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(fail(ProtocolError::TooLarge {
                size: bytes.len(),
                limit: MAX_REQUEST_BYTES,
            }));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(fail(ProtocolError::Empty));
        }
        let document: Value = serde_json::from_slice(bytes)
            .map_err(|error| fail(ProtocolError::MalformedJson(error.to_string())))?;
        Self::from_value(document)
    }

    /// Parses a request that is already a JSON value.
    pub fn from_value(document: Value) -> Result<Request, ParseFailure> {
        let Value::Object(mut envelope) = document else {
            return Err(ParseFailure {
                method: None,
                request_id: None,
                error: ProtocolError::BadEnvelope(format!(
                    "the document is {}",
                    json_type(&document)
                )),
            });
        };
        let method_name = match envelope.remove("method") {
            Some(Value::String(name)) if !name.is_empty() => Some(name),
            _ => None,
        };
        let request_id = envelope
            .get("context")
            .and_then(|context| context.get("request_id"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let fail = |error| ParseFailure {
            method: method_name.clone(),
            request_id: request_id.clone(),
            error,
        };

        let Some(name) = method_name.as_deref() else {
            return Err(fail(ProtocolError::BadEnvelope(
                "\"method\" is missing or not a non-empty string".to_owned(),
            )));
        };
        let arguments = match envelope.remove("arguments") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(fail(ProtocolError::BadEnvelope(format!(
                    "\"arguments\" must be a list, got {}",
                    json_type(&other)
                ))));
            }
        };
        let context = match envelope.remove("context") {
            None | Some(Value::Null) => Context::default(),
            Some(value @ Value::Object(_)) => serde_json::from_value(value).map_err(|error| {
                fail(ProtocolError::BadEnvelope(format!(
                    "\"context\" is malformed: {error}"
                )))
            })?,
            Some(other) => {
                return Err(fail(ProtocolError::BadEnvelope(format!(
                    "\"context\" must be an object, got {}",
                    json_type(&other)
                ))));
            }
        };
        let api_version = match envelope.remove("api_version") {
            None | Some(Value::Null) => ApiVersion::default(),
            Some(Value::Number(number)) => match number.as_u64() {
                Some(version) => ApiVersion::new(version).map_err(fail)?,
                None => {
                    return Err(fail(ProtocolError::BadEnvelope(format!(
                        "\"api_version\" must be a positive integer, got {number}"
                    ))));
                }
            },
            Some(other) => {
                return Err(fail(ProtocolError::BadEnvelope(format!(
                    "\"api_version\" must be a number, got {}",
                    json_type(&other)
                ))));
            }
        };
        let method = Method::parse(name, arguments).map_err(fail)?;
        Ok(Request {
            method,
            context,
            api_version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Method, NetworkKind};
    use serde_json::json;

    /// The shape the director sends (contract section 2.3), with a cpi-config property merged in.
    fn director_create_vm(api_version: u64) -> Value {
        json!({
            "method": "create_vm",
            "arguments": [
                "agent-007", "tmpl-1", {"compute_offering": "small", "future_key": {"x": 1}},
                {"private": {"type": "manual", "ip": "10.0.0.10", "prefix": "32", "netmask": "255.255.255.0",
                             "gateway": "10.0.0.1", "dns": ["8.8.8.8"], "default": ["dns", "gateway"],
                             "cloud_properties": {"name": "net-a"}, "nic_group": "1", "unknown": {"deep": [true]}}},
                [],
                {"bosh": {"password": "*", "mbus": {"cert": {"ca": "-----BEGIN"}}, "future": 1}, "persistent_disk_fs": "ext4"}
            ],
            "context": {
                "director_uuid": "d-uuid",
                "request_id": "cpi-483920",
                "vm": {"stemcell": {"api_version": 2}},
                "endpoint": "https://other-region/client/api"
            },
            "api_version": api_version
        })
    }

    #[test]
    fn director_requests_parse_at_every_api_version() {
        for version in 1..=3 {
            let document = director_create_vm(version);
            let request = Request::parse(document.to_string().as_bytes()).unwrap();
            assert_eq!(request.api_version.get() as u64, version);
            assert_eq!(request.context.request_id.as_deref(), Some("cpi-483920"));
            assert_eq!(request.context.stemcell_api_version(), Some(2));
            assert_eq!(
                request.context.cpi_properties["endpoint"],
                "https://other-region/client/api"
            );
            let Method::CreateVm {
                networks,
                env,
                cloud_properties,
                ..
            } = request.method
            else {
                panic!("create_vm")
            };
            // Unknown fields of networks and env survive verbatim.
            assert_eq!(networks.to_value(), document["arguments"][3]);
            assert_eq!(serde_json::Value::Object(env), document["arguments"][5]);
            assert_eq!(cloud_properties["future_key"]["x"], 1);
            assert_eq!(networks.get("private").unwrap().kind(), NetworkKind::Manual);
        }
    }

    #[test]
    fn bosh_cli_requests_parse_without_request_id() {
        let info = json!({"method": "info", "arguments": [], "context": {"director_uuid": "x"}, "api_version": 1});
        let request = Request::parse(info.to_string().as_bytes()).unwrap();
        assert_eq!(request.method, Method::Info);
        assert_eq!(request.context.request_id, None);
        assert_eq!(request.api_version, ApiVersion::V1);
        // create-env networks lack `prefix` and `type` may be absent.
        let create = json!({"method": "create_vm", "arguments": ["a", "s", {}, {"default": {"ip": "10.0.0.4",
            "netmask": "255.255.255.0", "gateway": "10.0.0.1", "dns": ["10.0.0.2"], "default": ["dns", "gateway"],
            "cloud_properties": {"name": "n"}}}, [], {}],
            "context": {"director_uuid": "x", "vm": {"stemcell": {"api_version": 2}}}, "api_version": 2});
        let request = Request::parse(create.to_string().as_bytes()).unwrap();
        assert!(request.api_version.is_v2_or_later());
    }

    #[test]
    fn context_round_trips_unknown_keys() {
        let context = json!({"director_uuid": "d", "request_id": "cpi-1", "vm": {"stemcell": {"api_version": 2, "x": 1}, "y": 2}, "z": [3]});
        let parsed: Context = serde_json::from_value(context.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), context);
    }

    #[test]
    fn malformed_requests_say_what_is_wrong_and_keep_what_was_readable() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "request is empty"),
            (b"{\"method\": ", "request is not valid JSON"),
            (b"[1]", "the document is a list"),
            (b"{\"arguments\": []}", "\"method\" is missing"),
            (
                b"{\"method\": \"has_vm\", \"arguments\": {}}",
                "\"arguments\" must be a list, got an object",
            ),
            (
                b"{\"method\": \"info\", \"context\": 5}",
                "\"context\" must be an object",
            ),
            (
                b"{\"method\": \"info\", \"api_version\": 4}",
                "api_version 4 is not supported",
            ),
        ];
        for (input, expected) in cases {
            let failure = Request::parse(input).unwrap_err();
            assert!(
                failure.error.to_string().contains(expected),
                "{:?} should contain {expected:?}",
                failure.error.to_string()
            );
        }
        let failure = Request::parse(
            br#"{"method": "has_vm", "arguments": [7.5], "context": {"request_id": "cpi-9"}}"#,
        )
        .unwrap_err();
        assert_eq!(failure.method.as_deref(), Some("has_vm"));
        assert_eq!(failure.request_id.as_deref(), Some("cpi-9"));
    }

    #[test]
    fn oversized_requests_are_refused_before_parsing() {
        let big = vec![b' '; MAX_REQUEST_BYTES + 1];
        let failure = Request::parse(&big).unwrap_err();
        assert!(matches!(failure.error, ProtocolError::TooLarge { .. }));
    }
}
