//! Runs several commands many times each, interleaved, feeding each the same request on
//! stdin, and prints the median, p99 and mean wall time of one fork+exec+answer per command.
//! Interleaving means drift on the machine (other builds, CPU frequency) hits every command
//! alike. Each answer is checked to contain `expect`, so a failing command cannot look fast.
//!
//! Usage: driver RUNS REQUEST_FILE EXPECT NAME CMD [ARGS...] [:: NAME CMD [ARGS...]]...

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Target {
    name: String,
    program: String,
    arguments: Vec<String>,
    samples: Vec<Duration>,
}

fn run_once(target: &Target, request: &[u8], expect: &str) -> Result<Duration, String> {
    let started = Instant::now();
    let mut child = Command::new(&target.program)
        .args(&target.arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: cannot start: {e}", target.name))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(request)
            .map_err(|e| format!("{}: stdin: {e}", target.name))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("{}: wait: {e}", target.name))?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !stdout.contains(expect) {
        return Err(format!("{}: unexpected answer: {stdout}", target.name));
    }
    Ok(elapsed)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.len() < 5 {
        eprintln!("usage: driver RUNS REQUEST_FILE EXPECT NAME CMD [ARGS...] [:: NAME CMD ...]");
        std::process::exit(2);
    }
    let runs: usize = arguments[0].parse().unwrap_or(500);
    let request = std::fs::read(&arguments[1]).unwrap_or_else(|e| {
        eprintln!("driver: cannot read {}: {e}", arguments[1]);
        std::process::exit(2);
    });
    let expect = &arguments[2];
    let mut targets: Vec<Target> = arguments[3..]
        .split(|argument| argument == "::")
        .filter(|group| group.len() >= 2)
        .map(|group| Target {
            name: group[0].clone(),
            program: group[1].clone(),
            arguments: group[2..].to_vec(),
            samples: Vec::with_capacity(runs),
        })
        .collect();
    // Warm-up: page cache, dynamic loader, the daemon's first connection.
    for _ in 0..20 {
        for target in &targets {
            if let Err(error) = run_once(target, &request, expect) {
                eprintln!("driver: {error}");
                std::process::exit(1);
            }
        }
    }
    for _ in 0..runs {
        for target in targets.iter_mut() {
            match run_once(target, &request, expect) {
                Ok(elapsed) => target.samples.push(elapsed),
                Err(error) => {
                    eprintln!("driver: {error}");
                    std::process::exit(1);
                }
            }
        }
    }
    for target in targets.iter_mut() {
        target.samples.sort();
        let mean = target.samples.iter().sum::<Duration>() / target.samples.len() as u32;
        println!(
            "{} runs={} median_us={} p99_us={} mean_us={}",
            target.name,
            target.samples.len(),
            percentile(&target.samples, 0.5).as_micros(),
            percentile(&target.samples, 0.99).as_micros(),
            mean.as_micros()
        );
    }
}
