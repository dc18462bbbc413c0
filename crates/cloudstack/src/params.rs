//! Request parameters and CloudStack's encoding conventions for them.
//!
//! Lists are comma-separated, maps are `name[i].key=value`, booleans are `true`/`false`
//! (section 7 of the API reference). Parameters are kept sorted by name so that the signed
//! string and the sent form agree.

use std::collections::BTreeMap;

/// The parameters of one request, without `command`, `apikey`, `response` and the signature
/// fields, which the client adds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    entries: BTreeMap<String, String>,
}

impl Params {
    /// An empty parameter set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a parameter, replacing any earlier value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.entries.insert(name.into(), value.into());
        self
    }

    /// Sets a parameter when the value is present.
    pub fn opt<V: ToString>(&mut self, name: &str, value: Option<V>) -> &mut Self {
        if let Some(value) = value {
            self.entries.insert(name.to_owned(), value.to_string());
        }
        self
    }

    /// Sets a boolean parameter as `true`/`false`.
    pub fn bool(&mut self, name: &str, value: bool) -> &mut Self {
        self.set(name, if value { "true" } else { "false" })
    }

    /// Sets a comma-separated list; an empty list sends nothing.
    pub fn list<S: AsRef<str>>(&mut self, name: &str, values: &[S]) -> &mut Self {
        if !values.is_empty() {
            let joined = values
                .iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(",");
            self.set(name, joined);
        }
        self
    }

    /// Sets a key/value map in the `tags` style: `name[i].key=k&name[i].value=v`.
    pub fn key_value_map<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        name: &str,
        pairs: &[(K, V)],
    ) -> &mut Self {
        for (index, (key, value)) in pairs.iter().enumerate() {
            self.set(format!("{name}[{index}].key"), key.as_ref());
            self.set(format!("{name}[{index}].value"), value.as_ref());
        }
        self
    }

    /// Sets a map in the `details` style, all entries under index 0: `name[0].k=v`.
    pub fn detail_map<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        name: &str,
        pairs: &[(K, V)],
    ) -> &mut Self {
        for (key, value) in pairs {
            self.set(format!("{name}[0].{}", key.as_ref()), value.as_ref());
        }
        self
    }

    /// Sets one field of an indexed record: `name[index].field=value`.
    pub fn indexed(&mut self, name: &str, index: usize, field: &str, value: &str) -> &mut Self {
        self.set(format!("{name}[{index}].{field}"), value)
    }

    /// The value of a parameter, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries.get(name).map(String::as_str)
    }

    /// Whether a parameter is set.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The parameters in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The parameter names in order, for logging without values.
    pub fn names(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lists_maps_and_booleans() {
        let mut params = Params::new();
        params
            .list("networkids", &["a", "b"])
            .list::<&str>("empty", &[])
            .key_value_map("tags", &[("director", "bosh"), ("job", "web")])
            .detail_map("details", &[("cpuNumber", "2")])
            .indexed("iptonetworklist", 1, "ip", "10.0.0.5")
            .bool("expunge", true)
            .opt::<u32>("size", None);
        assert_eq!(params.get("networkids"), Some("a,b"));
        assert!(!params.contains("empty"));
        assert_eq!(params.get("tags[1].key"), Some("job"));
        assert_eq!(params.get("tags[1].value"), Some("web"));
        assert_eq!(params.get("details[0].cpuNumber"), Some("2"));
        assert_eq!(params.get("iptonetworklist[1].ip"), Some("10.0.0.5"));
        assert_eq!(params.get("expunge"), Some("true"));
        assert!(!params.contains("size"));
    }
}
