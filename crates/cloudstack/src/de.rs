//! Tolerant field decoders.
//!
//! CloudStack is not consistent about JSON types: the oldest servers send integer ids, some
//! numbers arrive as strings (`"downloadPercent": "100"`), and some booleans as strings
//! (`"registered": "false"`). These helpers accept every spelling seen in the wild and are used
//! with `#[serde(deserialize_with = ...)]` on the response types.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn value_to_string(value: Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => Some(
            items
                .into_iter()
                .filter_map(value_to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Object(_) => None,
    }
}

/// A required string that may arrive as a number (old integer ids).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let value = Value::deserialize(d)?;
    value_to_string(value).ok_or_else(|| serde::de::Error::custom("expected a string or number"))
}

/// An optional string that may arrive as a number, boolean or array of strings (joined by
/// commas, as CloudStack itself joins `keypairs`).
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.and_then(value_to_string))
}

/// An optional unsigned integer that may arrive as a string; an empty string means absent.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            .map(Some)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("expected a non-negative number, got {n}"))
            }),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected a number, got {s:?}"))),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a number, got {other}"
        ))),
    }
}

/// An optional signed integer that may arrive as a string.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("expected an integer, got {n}"))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected an integer, got {s:?}"))),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected an integer, got {other}"
        ))),
    }
}

/// An optional boolean that may arrive as `"true"`/`"false"`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(b)),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            "" => Ok(None),
            _ => Err(serde::de::Error::custom(format!(
                "expected a boolean, got {s:?}"
            ))),
        },
        Some(Value::Number(n)) => Ok(Some(n.as_u64().unwrap_or(0) != 0)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "expected a boolean, got {other}"
        ))),
    }
}

/// A list that may be absent, `null`, or a single object instead of an array.
pub fn vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    match Option::<Value>::deserialize(d)? {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|item| serde_json::from_value(item).map_err(serde::de::Error::custom))
            .collect(),
        Some(Value::Object(map)) if map.is_empty() => Ok(Vec::new()),
        Some(single) => serde_json::from_value(single)
            .map(|item| vec![item])
            .map_err(serde::de::Error::custom),
    }
}

/// A string map (`details`) whose values may be any scalar.
pub fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    match Option::<Value>::deserialize(d)? {
        Some(Value::Object(map)) => Ok(map
            .into_iter()
            .filter_map(|(k, v)| value_to_string(v).map(|v| (k, v)))
            .collect()),
        _ => Ok(BTreeMap::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Sample {
        #[serde(deserialize_with = "string")]
        id: String,
        #[serde(default, deserialize_with = "opt_u64")]
        size: Option<u64>,
        #[serde(default, deserialize_with = "opt_bool")]
        flag: Option<bool>,
        #[serde(default, deserialize_with = "opt_string")]
        keys: Option<String>,
        #[serde(default, deserialize_with = "vec")]
        items: Vec<u32>,
    }

    #[test]
    fn accepts_numbers_as_strings_and_back() {
        let s: Sample = serde_json::from_str(
            r#"{"id": 37, "size": "100", "flag": "false", "keys": ["a","b"], "items": {}}"#,
        )
        .unwrap();
        assert_eq!(s.id, "37");
        assert_eq!(s.size, Some(100));
        assert_eq!(s.flag, Some(false));
        assert_eq!(s.keys.as_deref(), Some("a,b"));
        assert!(s.items.is_empty());
    }

    #[test]
    fn rejects_garbage_numbers_with_a_message() {
        let err = serde_json::from_str::<Sample>(r#"{"id": "x", "size": "lots"}"#)
            .err()
            .unwrap();
        assert!(err.to_string().contains("lots"), "{err}");
    }
}
