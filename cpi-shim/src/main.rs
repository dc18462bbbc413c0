//! `cpi`: the executable BOSH runs once per CPI call.
//!
//! It carries no CPI logic. It reads the request from stdin, forwards it to the warm `cpid`
//! daemon, and prints the daemon's reply. Whatever goes wrong, it prints exactly one valid CPI
//! response on stdout and exits 0, because bosh-cli treats a non-zero exit as fatal before it
//! reads the response; diagnostics go to stderr, which the director streams into the task log.

mod config;
mod json;
mod response;
mod transport;

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use response::ErrorType;
use transport::ExchangeError;

/// Requests are a few kilobytes; the limit only stops a runaway writer.
const MAX_REQUEST_BYTES: u64 = 8 * 1024 * 1024;
/// A request over the limit is still read to its end (up to this much) so that the caller does
/// not fail writing into a closed pipe before it can read the answer.
const MAX_DRAIN_BYTES: u64 = 1024 * 1024 * 1024;
/// CPI calls such as `create_stemcell` or `attach_disk` may legitimately take an hour.
const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(2 * 60 * 60);
/// Overrides the call timeout; the director passes no environment, so this serves operators
/// running bosh-cli and tests.
const TIMEOUT_VARIABLE: &str = "CPI_SHIM_TIMEOUT_SECONDS";

fn main() -> ExitCode {
    let document = run();
    let mut stdout = io::stdout().lock();
    match stdout.write_all(&document).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cpi: cannot write the response to stdout: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Produces the single response document to print.
fn run() -> Vec<u8> {
    let request = match read_request(&mut io::stdin().lock()) {
        Ok(request) => request,
        Err(message) => return fail(ErrorType::CpiError, &message),
    };
    let config_path = config::config_path(
        std::env::args_os().nth(1),
        std::env::var_os("CPI_CONFIG"),
        std::env::var_os("BOSH_JOBS_DIR"),
    );
    let config = match config::load(&config_path) {
        Ok(config) => config,
        Err(message) => return fail(ErrorType::CloudError, &message),
    };
    let timeout = match call_timeout() {
        Ok(timeout) => timeout,
        Err(message) => return fail(ErrorType::CloudError, &message),
    };
    let mut stream = match transport::connect_or_start(&config) {
        Ok(stream) => stream,
        Err(message) => return fail(ErrorType::CloudError, &message),
    };
    let endpoint = &config.endpoint;
    let log = config.log_file.display();
    let reply = match transport::exchange(&mut stream, &request, timeout) {
        Ok(reply) => reply,
        Err(ExchangeError::Send(error)) => {
            return fail(
                ErrorType::CloudError,
                &format!(
                    "sending the request to the CPI daemon at {endpoint} failed: {error}; daemon log: {log}"
                ),
            );
        }
        Err(ExchangeError::Receive(error)) => {
            return fail(
                ErrorType::CloudError,
                &format!(
                    "lost the connection to the CPI daemon at {endpoint} while waiting for the reply: {error}; daemon log: {log}"
                ),
            );
        }
        Err(ExchangeError::TimedOut(limit)) => {
            return fail(
                ErrorType::CloudError,
                &format!(
                    "no reply from the CPI daemon at {endpoint} within {}s; the call may still be running, see daemon log: {log}",
                    limit.as_secs()
                ),
            );
        }
        Err(ExchangeError::TooLarge) => {
            return fail(
                ErrorType::CloudError,
                &format!(
                    "the CPI daemon at {endpoint} sent a reply larger than the {} byte limit; daemon log: {log}",
                    transport::MAX_REPLY_BYTES
                ),
            );
        }
    };
    if reply.is_empty() {
        return fail(
            ErrorType::CloudError,
            &format!(
                "the CPI daemon at {endpoint} closed the connection without a reply (was it stopped or killed during the call?); daemon log: {log}"
            ),
        );
    }
    if let Err(reason) = response::validate(&reply) {
        return fail(
            ErrorType::CloudError,
            &format!(
                "invalid reply from the CPI daemon at {endpoint}: {reason}; daemon log: {log}"
            ),
        );
    }
    let mut reply = reply;
    if reply.last() != Some(&b'\n') {
        reply.push(b'\n');
    }
    reply
}

fn fail(kind: ErrorType, message: &str) -> Vec<u8> {
    eprintln!("cpi: {message}");
    response::error_document(kind, message)
}

fn call_timeout() -> Result<Duration, String> {
    match std::env::var(TIMEOUT_VARIABLE) {
        Err(_) => Ok(DEFAULT_CALL_TIMEOUT),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(seconds) if seconds > 0 => Ok(Duration::from_secs(seconds)),
            _ => Err(format!(
                "{TIMEOUT_VARIABLE} must be a positive number of seconds, got '{text}'"
            )),
        },
    }
}

/// Reads the whole request, refusing empty and oversized input.
fn read_request(input: &mut impl Read) -> Result<Vec<u8>, String> {
    let mut request = Vec::new();
    input
        .take(MAX_REQUEST_BYTES + 1)
        .read_to_end(&mut request)
        .map_err(|e| format!("cannot read the request from stdin: {e}"))?;
    if request.len() as u64 > MAX_REQUEST_BYTES {
        let _ = io::copy(&mut input.take(MAX_DRAIN_BYTES), &mut io::sink());
        return Err(format!(
            "the request on stdin is larger than the {MAX_REQUEST_BYTES} byte (8 MiB) limit"
        ));
    }
    if request.iter().all(u8::is_ascii_whitespace) {
        return Err("empty request on stdin: expected one JSON CPI request".into());
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_request_refuses_empty_and_oversized_input() {
        let error = read_request(&mut &b" \n"[..]).unwrap_err();
        assert!(error.starts_with("empty request"), "{error}");
        let big = vec![b'x'; MAX_REQUEST_BYTES as usize + 10];
        let mut reader = &big[..];
        let error = read_request(&mut reader).unwrap_err();
        assert!(error.contains("8 MiB"), "{error}");
        assert!(reader.is_empty(), "the oversized request must be drained");
        assert_eq!(read_request(&mut &b"{}"[..]).unwrap(), b"{}");
    }
}
