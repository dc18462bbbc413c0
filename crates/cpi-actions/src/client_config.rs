//! Maps the CPI configuration onto the CloudStack client's own configuration.

use std::time::Duration;

use cloudstack::{CaCertPem, ClientConfig};
use cpi_config::Config;

/// The client configuration for this (possibly request-overridden) CPI configuration.
pub fn client_config(config: &Config) -> ClientConfig {
    let cloudstack = &config.cloudstack;
    let mut client = ClientConfig::new(
        cloudstack.endpoint.clone(),
        cloudstack.api_key.clone(),
        cloudstack.secret_access_key.clone(),
    );
    client.project = cloudstack.project.clone();
    client.verify_tls = !cloudstack.skip_verify_ssl;
    client.ca_cert_pem = cloudstack.ca_cert.clone().map(CaCertPem);
    client.async_job_timeout = Duration::from_secs(cloudstack.async_job_timeout);
    client.max_in_flight = cloudstack.max_calls_in_flight as usize;
    client.rate_limit_per_sec = cloudstack.calls_per_second;
    client
}
