//! `info`: the CPI's API version and stemcell formats. It must stay cheap and touch no IaaS,
//! because the director calls it before every other method.

use cpi_config::Config;
use serde_json::{Value, json};

/// The CPI API version this CPI implements.
pub const API_VERSION: u32 = 2;

pub fn run(config: &Config) -> Value {
    json!({"api_version": API_VERSION, "stemcell_formats": config.stemcell_formats()})
}
