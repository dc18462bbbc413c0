//! Decoding of CloudStack's response envelopes.
//!
//! Every answer is `{"<command lower-cased>response": {...}}`; errors carry `errorcode`,
//! `cserrorcode` and `errortext` inside; empty lists are `{}`; asynchronous jobs report
//! `jobstatus` 0/1/2 with the object under one key of `jobresult`.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::de;

/// The body of an envelope: the object under the single top-level key.
pub type Body = Map<String, Value>;

/// Extracts the body of an envelope for `command`.
///
/// The expected key is the lower-cased command plus `response`; any single key is accepted too,
/// because old servers and recorded fixtures differ (`errorresponse`, camel-case keys).
pub fn unwrap(command: &str, value: Value) -> Result<Body, String> {
    let Value::Object(mut top) = value else {
        return Err("the answer is not a JSON object".to_owned());
    };
    let expected = format!("{}response", command.to_ascii_lowercase());
    let inner = if let Some(inner) = top.remove(&expected) {
        inner
    } else if top.len() == 1 {
        let Some((_, inner)) = top.into_iter().next() else {
            return Err("the answer is empty".to_owned());
        };
        inner
    } else {
        let keys: Vec<&String> = top.keys().collect();
        return Err(format!(
            "expected a single key {expected:?}, found keys {keys:?}"
        ));
    };
    match inner {
        Value::Object(body) => Ok(body),
        other => Err(format!("{expected} is not an object but {other}")),
    }
}

/// The error fields of an error envelope or a failed job result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorFields {
    /// `errorcode`.
    pub errorcode: u16,
    /// `cserrorcode`.
    pub cserrorcode: Option<u32>,
    /// `errortext`.
    pub errortext: String,
}

/// Reads `errorcode`/`cserrorcode`/`errortext` from a body, if it is an error.
pub fn error_fields(body: &Body) -> Option<ErrorFields> {
    let errorcode = body.get("errorcode").and_then(number)?;
    Some(ErrorFields {
        errorcode: u16::try_from(errorcode).unwrap_or(u16::MAX),
        cserrorcode: body
            .get("cserrorcode")
            .and_then(number)
            .and_then(|n| u32::try_from(n).ok()),
        errortext: body
            .get("errortext")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
    })
}

fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first answer of an asynchronous command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncSubmission {
    /// The job to poll.
    pub job_id: String,
    /// The id of the object being created, for create-style commands.
    pub object_id: Option<String>,
}

/// Reads `jobid` (and `id`) from the first answer of an asynchronous command.
pub fn submission(body: &Body) -> Result<AsyncSubmission, String> {
    let job_id = body
        .get("jobid")
        .and_then(string)
        .ok_or_else(|| "the answer carries no jobid".to_owned())?;
    Ok(AsyncSubmission {
        job_id,
        object_id: body.get("id").and_then(string),
    })
}

/// The state of an asynchronous job.
#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    /// `jobstatus` 0.
    Pending,
    /// `jobstatus` 1, with the `jobresult` object.
    Succeeded(Body),
    /// `jobstatus` 2.
    Failed {
        /// Outer `jobresultcode`.
        jobresultcode: u16,
        /// Inner error fields.
        error: ErrorFields,
    },
}

/// Reads a `queryAsyncJobResult` body (or a fixture storing the same payload).
pub fn job_state(body: &Body) -> Result<JobState, String> {
    let status = body
        .get("jobstatus")
        .and_then(number)
        .ok_or_else(|| "the job answer carries no jobstatus".to_owned())?;
    match status {
        0 => Ok(JobState::Pending),
        1 => match body.get("jobresult") {
            Some(Value::Object(result)) => Ok(JobState::Succeeded(result.clone())),
            // Commands that return nothing still succeed; an absent result decodes as empty.
            None | Some(Value::Null) => Ok(JobState::Succeeded(Body::new())),
            Some(other) => Err(format!("jobresult is not an object but {other}")),
        },
        2 => {
            let jobresultcode = body
                .get("jobresultcode")
                .and_then(number)
                .and_then(|n| u16::try_from(n).ok())
                .unwrap_or(530);
            let error = match body.get("jobresult") {
                Some(Value::Object(result)) => error_fields(result),
                // Very old servers put the text directly in jobresult.
                Some(Value::String(text)) => Some(ErrorFields {
                    errorcode: jobresultcode,
                    cserrorcode: None,
                    errortext: text.clone(),
                }),
                _ => None,
            }
            .unwrap_or(ErrorFields {
                errorcode: jobresultcode,
                cserrorcode: None,
                errortext: "the job failed without an error text".to_owned(),
            });
            Ok(JobState::Failed {
                jobresultcode,
                error,
            })
        }
        other => Err(format!("unknown jobstatus {other}")),
    }
}

/// One page of a list answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<T> {
    /// `count`: the total number of matches, absent for an empty list.
    pub count: Option<u64>,
    /// The items of this page.
    pub items: Vec<T>,
}

/// Decodes one page of a list: `count` plus the array under `item_key`; `{}` is empty.
pub fn list_page<T: DeserializeOwned>(
    mut body: Body,
    item_key: &str,
) -> Result<ListPage<T>, String> {
    let count = body.get("count").and_then(number);
    // The body is owned, so the items are moved into the decoder instead of cloned.
    let items = match body.remove(item_key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                serde_json::from_value(item).map_err(|e| format!("{item_key}[{index}]: {e}"))
            })
            .collect::<Result<Vec<T>, String>>()?,
        Some(other) => return Err(format!("{item_key} is not an array but {other}")),
    };
    Ok(ListPage { count, items })
}

/// Decodes the object under `key` of a body.
pub fn object<T: DeserializeOwned>(body: &Body, key: &str) -> Result<T, String> {
    let value = body.get(key).ok_or_else(|| {
        let keys: Vec<&String> = body.keys().collect();
        format!("expected key {key:?}, found keys {keys:?}")
    })?;
    // Deserialize straight from the borrowed value rather than cloning the subtree first.
    T::deserialize(value).map_err(|e| format!("{key}: {e}"))
}

/// Decodes a `{"success": true}` body (also `"true"`); a false value carries `displaytext`.
pub fn success(body: &Body) -> Result<(), String> {
    #[derive(serde::Deserialize)]
    struct Success {
        #[serde(default, deserialize_with = "de::opt_bool")]
        success: Option<bool>,
        #[serde(default)]
        displaytext: Option<String>,
    }
    let parsed: Success =
        serde_json::from_value(Value::Object(body.clone())).map_err(|e| format!("success: {e}"))?;
    match parsed.success {
        Some(true) => Ok(()),
        Some(false) => Err(format!(
            "the server reported success=false: {}",
            parsed.displaytext.unwrap_or_default()
        )),
        None => Err("the answer carries no success field".to_owned()),
    }
}
