//! The floor: the least a per-call executable can do. It reads the request from stdin,
//! connects to a Unix socket, sends the request, half-closes, reads the reply to EOF and
//! prints it. The shim does the same plus reading its config and validating the reply.
//!
//! Usage: floor_client SOCKET_PATH < request.json

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: floor_client SOCKET_PATH");
        std::process::exit(2);
    };
    let mut request = Vec::new();
    let mut reply = Vec::new();
    let result = std::io::stdin()
        .read_to_end(&mut request)
        .and_then(|_| UnixStream::connect(&path))
        .and_then(|mut stream| {
            stream.write_all(&request)?;
            stream.shutdown(Shutdown::Write)?;
            stream.read_to_end(&mut reply)
        })
        .and_then(|_| std::io::stdout().write_all(&reply));
    if let Err(error) = result {
        eprintln!("floor_client: {error}");
        std::process::exit(1);
    }
}
