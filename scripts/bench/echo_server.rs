//! The floor's server: a trivial std-only Unix socket server that reads a request to EOF and
//! answers with a fixed `info` response. It does no parsing, so the floor measures only
//! process start-up, the socket round trip and stdout.
//!
//! Usage: echo_server SOCKET_PATH

use std::io::{Read, Write};
use std::os::unix::net::UnixListener;

const REPLY: &[u8] =
    b"{\"result\":{\"api_version\":2,\"stemcell_formats\":[\"cloudstack-vhdx\"]},\"error\":null,\"log\":\"\"}\n";

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: echo_server SOCKET_PATH");
        std::process::exit(2);
    };
    let _ = std::fs::remove_file(&path);
    let listener = match UnixListener::bind(&path) {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("echo_server: cannot bind: {error}");
            std::process::exit(1);
        }
    };
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let mut request = Vec::new();
        if stream.read_to_end(&mut request).is_ok() {
            let _ = stream.write_all(REPLY);
        }
    }
}
