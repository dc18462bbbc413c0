//! Typed access to request parameters with CloudStack's error texts.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// Request parameters in arrival order. Lookups are case-insensitive, as the servlet's
/// parameter processing treats `apiKey` and `apikey` alike; the first occurrence wins.
#[derive(Debug, Clone, Default)]
pub struct Params {
    command: String,
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Wraps decoded pairs for `command`.
    pub fn new(command: &str, pairs: Vec<(String, String)>) -> Self {
        Self {
            command: command.to_owned(),
            pairs,
        }
    }

    /// The command these parameters belong to.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// The raw value of `name`; empty values count as absent, as in CloudStack.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }

    /// A required parameter.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name)
            .ok_or_else(|| ApiError::missing(&self.command, name))
    }

    fn invalid(&self, name: &str, value: &str, kind: &str) -> ApiError {
        ApiError::param(format!(
            "Unable to execute API command {} due to invalid value. Invalid parameter {name} value={value} due to incorrect {kind} value format, or entity does not exist or due to incorrect parameter annotation for the field in api cmd class.",
            self.command.to_lowercase()
        ))
    }

    /// An optional boolean (`true`/`false`, case-insensitive).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(self.invalid(name, v, "boolean")),
        }
    }

    /// An optional signed integer.
    pub fn i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| self.invalid(name, v, "long")),
        }
    }

    /// An optional non-negative integer.
    pub fn u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.i64(name)? {
            None => Ok(None),
            Some(n) => u64::try_from(n).map(Some).map_err(|_| {
                ApiError::param(format!(
                    "Invalid parameter {name}: {n} must not be negative"
                ))
            }),
        }
    }

    /// A comma-separated list (empty when absent).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A map parameter `name[i].field=value`, grouped by index in index order.
    pub fn map(&self, name: &str) -> Vec<BTreeMap<String, String>> {
        let mut groups: BTreeMap<u64, BTreeMap<String, String>> = BTreeMap::new();
        let prefix_len = name.len();
        for (key, value) in &self.pairs {
            let Some(head) = key.get(..prefix_len) else {
                continue;
            };
            if !head.eq_ignore_ascii_case(name) {
                continue;
            }
            let rest = &key[prefix_len..];
            let Some(rest) = rest.strip_prefix('[') else {
                continue;
            };
            let Some((index, field)) = rest.split_once("].") else {
                continue;
            };
            let Ok(index) = index.parse::<u64>() else {
                continue;
            };
            groups
                .entry(index)
                .or_default()
                .entry(field.to_lowercase())
                .or_insert_with(|| value.clone());
        }
        groups.into_values().collect()
    }

    /// The `tags[i].key` / `tags[i].value` filter of list commands.
    pub fn tag_filters(&self) -> Vec<(String, Option<String>)> {
        self.map("tags")
            .into_iter()
            .filter_map(|mut group| {
                let key = group.remove("key")?;
                Some((key, group.remove("value")))
            })
            .collect()
    }
}

/// Applies `page`/`pagesize` (BaseListCmd rules) and builds the list body: `{}` when there is
/// nothing, else `count` (the total) and, when the page is not empty, the array under `key`.
pub fn list_body(
    params: &Params,
    default_page_size: usize,
    key: &str,
    items: Vec<Value>,
) -> Result<Value, ApiError> {
    let page = params.i64("page")?;
    let page_size = params.i64("pagesize")?;
    let limit = i64::try_from(default_page_size).unwrap_or(i64::MAX);
    let (offset, take) = match (page, page_size) {
        (None, None) => (0, default_page_size),
        (None, Some(-1)) => (0, usize::MAX),
        (Some(_), None) => {
            return Err(ApiError::param(
                "\"pagesize\" parameter is required when \"page\" is specified",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::param(
                "\"page\" parameter is required when \"pagesize\" is specified",
            ));
        }
        (Some(_), Some(-1)) => {
            return Err(ApiError::param(
                "\"page\" parameter can't be specified when \"pagesize\" is -1 (unlimited)",
            ));
        }
        (Some(page), Some(size)) => {
            if size > limit {
                return Err(ApiError::param(format!(
                    "Page size can't exceed max allowed page size value: {default_page_size}"
                )));
            }
            if size < 1 || page < 1 {
                return Err(ApiError::param(format!(
                    "Invalid page {page} or pagesize {size}: both must be positive"
                )));
            }
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let page = usize::try_from(page).unwrap_or(usize::MAX);
            (size.saturating_mul(page - 1), size)
        }
    };
    let total = items.len();
    let page_items: Vec<Value> = items.into_iter().skip(offset).take(take).collect();
    let mut body = Map::new();
    if total > 0 {
        body.insert("count".into(), json!(total));
    }
    if !page_items.is_empty() {
        body.insert(key.into(), Value::Array(page_items));
    }
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            "listZones",
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn map_parameters_group_by_index() {
        let p = params(&[
            ("tags[1].key", "b"),
            ("tags[0].key", "a"),
            ("tags[0].value", "1"),
            ("Tags[1].Value", "2"),
            ("tagsx[0].key", "nope"),
        ]);
        assert_eq!(
            p.tag_filters(),
            vec![
                ("a".into(), Some("1".into())),
                ("b".into(), Some("2".into()))
            ]
        );
    }

    #[test]
    fn pagination_rules() {
        let items: Vec<Value> = (0..7).map(|i| json!(i)).collect();
        let body = list_body(&params(&[]), 500, "zone", items.clone()).unwrap();
        assert_eq!(body["count"], 7);
        assert_eq!(body["zone"].as_array().unwrap().len(), 7);
        let body = list_body(
            &params(&[("page", "2"), ("pagesize", "3")]),
            500,
            "zone",
            items.clone(),
        )
        .unwrap();
        assert_eq!(body["zone"], json!([3, 4, 5]));
        assert_eq!(body["count"], 7);
        let body = list_body(&params(&[]), 5, "zone", items.clone()).unwrap();
        assert_eq!(body["zone"].as_array().unwrap().len(), 5);
        let body = list_body(&params(&[("pagesize", "-1")]), 5, "zone", items.clone()).unwrap();
        assert_eq!(body["zone"].as_array().unwrap().len(), 7);
        for bad in [
            vec![("page", "1")],
            vec![("pagesize", "3")],
            vec![("page", "1"), ("pagesize", "501")],
            vec![("page", "0"), ("pagesize", "3")],
            vec![("page", "x"), ("pagesize", "3")],
        ] {
            let err = list_body(&params(&bad), 500, "zone", items.clone()).unwrap_err();
            assert_eq!(err.errorcode, 431, "{bad:?}");
        }
        assert_eq!(
            list_body(&params(&[]), 500, "zone", vec![]).unwrap(),
            json!({})
        );
    }
}
