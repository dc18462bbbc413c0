#!/usr/bin/env bash
# Benchmark: publishes a 4 GiB sparse stemcell image (URL mode: import into the store, SHA-256,
# registerTemplate, the emulator downloads it over HTTP from the store and checks the
# checksum), all in one process, and reports its peak RSS (VmHWM). Target: under 64 MiB.
# BENCH_IMAGE_BYTES overrides the size.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo nextest run -p cpi-actions -E 'binary(stemcell_bench)' --run-ignored only --no-capture 2>&1 \
  | tee /dev/stderr | grep '^BENCH' || { echo "benchmark failed" >&2; exit 1; }
