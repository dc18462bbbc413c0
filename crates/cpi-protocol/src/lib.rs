//! Wire types of the BOSH external CPI protocol.
//!
//! The director (or `bosh create-env`) writes one JSON request to the CPI's stdin and reads one
//! JSON response from its stdout. This crate turns the request bytes into closed Rust types once,
//! at the boundary, and turns a typed outcome back into the response document.
//!
//! **Invariants**
//! - This crate does no I/O: no files, sockets, clocks or environment variables. It only converts
//!   between bytes or `serde_json` values and types.
//! - It knows nothing of CloudStack, SQL or HTTP servers.
//! - Every BOSH error type is named in exactly one place, [`ErrorKind::wire_name`], and every
//!   response is built by [`Response::from_outcome`], so the `{result, error, log}` shape with
//!   a string `log` and a boolean `ok_to_retry` cannot drift.
//! - Director-supplied `networks`, `env` and `context` round-trip verbatim: unknown fields are
//!   kept, never dropped or reordered.

mod cid;
mod context;
mod error;
mod method;
mod network;
mod request;
mod response;

pub use cid::{AgentId, DiskCid, EmptyCid, SnapshotCid, StemcellCid, VmCid};
pub use context::{Context, StemcellContext, VmContext};
pub use error::{CpiError, ErrorKind, ProtocolError};
pub use method::{Method, MethodName, VmResources};
pub use network::{Network, NetworkKind, Networks};
pub use request::{ApiVersion, MAX_REQUEST_BYTES, ParseFailure, Request};
pub use response::{Response, ResponseError};

/// A JSON object, as used for `cloud_properties`, `env` and metadata.
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

/// The `env` argument of `create_vm`, copied verbatim into the agent settings.
pub type Env = JsonObject;
