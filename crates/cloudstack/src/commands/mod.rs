//! Typed requests for every CloudStack command the CPI uses.
//!
//! Each request is a plain struct with public fields (use `..Default::default()` for the
//! optional ones). Its `build_params` method is the single place that knows the command's
//! parameter names; the [`Command`](crate::Command) or [`ListCommand`](crate::ListCommand)
//! implementation states the API name, whether it is asynchronous, whether it is safe to
//! repeat, whether it accepts `projectid`, and how its answer decodes.

mod compute;
mod misc;
mod network;
mod storage;

pub use compute::*;
pub use misc::*;
pub use network::*;
pub use storage::*;

/// Implements [`crate::Command`] for a request type with a `build_params` method.
macro_rules! command {
    (
        $ty:ty, $name:literal, $exec:ident, safe = $safe:literal, project = $project:literal,
        output = $out:ty, decode = |$body:ident| $decode:expr
    ) => {
        impl $crate::command::Command for $ty {
            type Output = $out;
            const NAME: &'static str = $name;
            const EXECUTION: $crate::command::Execution = $crate::command::Execution::$exec;
            const SAFE: bool = $safe;
            const PROJECT_SCOPED: bool = $project;
            fn params(&self) -> $crate::params::Params {
                self.build_params()
            }
            fn decode($body: &$crate::envelope::Body) -> Result<$out, String> {
                $decode
            }
        }
    };
}

/// Implements [`crate::ListCommand`] for a request type with a `build_params` method.
macro_rules! list_command {
    ($ty:ty, $name:literal, $key:literal, project = $project:literal, item = $item:ty) => {
        impl $crate::command::ListCommand for $ty {
            type Item = $item;
            const NAME: &'static str = $name;
            const ITEM_KEY: &'static str = $key;
            const PROJECT_SCOPED: bool = $project;
            fn params(&self) -> $crate::params::Params {
                self.build_params()
            }
        }
    };
}

pub(crate) use command;
pub(crate) use list_command;

/// Decodes an async result that is either an object under `key` or a bare `success`.
pub(crate) fn object_or_success<T: serde::de::DeserializeOwned>(
    body: &crate::envelope::Body,
    key: &str,
) -> Result<Option<T>, String> {
    if body.contains_key(key) {
        crate::envelope::object(body, key).map(Some)
    } else {
        crate::envelope::success(body).map(|()| None)
    }
}

/// Decodes an async result that carries nothing useful: `success`, or an empty result.
pub(crate) fn done(body: &crate::envelope::Body) -> Result<(), String> {
    if body.is_empty() {
        Ok(())
    } else {
        crate::envelope::success(body)
    }
}
