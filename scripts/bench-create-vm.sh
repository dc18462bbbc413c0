#!/usr/bin/env bash
# CloudStack calls and CPI overhead per warm create_vm, against the emulator.
# Usage: scripts/bench-create-vm.sh [RUNS] [JOB_MS]   (defaults 20 and 50; figures go to stdout)
# The overhead is wall time minus the time the emulator's async jobs were pending; it includes
# job polling latency, signing, HTTP, JSON and the SQLite store.
set -euo pipefail
runs="${1:-20}"
job_ms="${2:-50}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
cargo run --release --quiet -p cpi-actions --example bench_create_vm -- --runs "$runs" --job-ms "$job_ms"
