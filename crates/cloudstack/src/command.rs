//! The command abstraction: a typed request knows its CloudStack name, how it executes, which
//! parameters it sends and how its answer decodes.

use serde::de::DeserializeOwned;

use crate::envelope::Body;
use crate::params::Params;

/// How CloudStack runs a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// The answer carries the result.
    Sync,
    /// The answer carries a `jobid`; the result comes from `queryAsyncJobResult`.
    Async,
}

/// A non-list CloudStack command.
pub trait Command: Send + Sync {
    /// The decoded result.
    type Output: Send;
    /// The API name, e.g. `deployVirtualMachine`.
    const NAME: &'static str;
    /// Sync or async.
    const EXECUTION: Execution;
    /// Read-only or idempotent: repeating it after a transport failure does no harm.
    const SAFE: bool;
    /// Accepts `projectid`, so the client adds the configured project.
    const PROJECT_SCOPED: bool;
    /// The request parameters.
    fn params(&self) -> Params;
    /// Decodes the envelope body (sync) or the `jobresult` object (async).
    fn decode(body: &Body) -> Result<Self::Output, String>;
}

/// A CloudStack `list*` command; the client follows every page.
pub trait ListCommand: Send + Sync {
    /// The item type.
    type Item: DeserializeOwned + Send;
    /// The API name, e.g. `listVirtualMachines`.
    const NAME: &'static str;
    /// The array key in the answer, e.g. `virtualmachine`.
    const ITEM_KEY: &'static str;
    /// Accepts `projectid`, so the client adds the configured project.
    const PROJECT_SCOPED: bool;
    /// The filter parameters (without `page`/`pagesize`).
    fn params(&self) -> Params;
}
