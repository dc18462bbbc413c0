#!/usr/bin/env bash
# Runs the litmus WebDAV suite (groups basic, copymove, props) against a stemcell store it
# starts on a temporary directory. Usage: scripts/litmus.sh [litmus groups...]
# The same check runs in `cargo nextest run -p stemcell-store -E 'binary(litmus)'`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v litmus >/dev/null 2>&1; then
  echo "litmus is not installed: apt-get install litmus" >&2
  exit 2
fi
groups="${*:-basic copymove props}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cargo build -q -p stemcell-store --example serve
password="litmus-$RANDOM$RANDOM"
target/debug/examples/serve "$work/stemcells" 127.0.0.1:0 litmus "$password" >"$work/serve.out" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q '^LISTEN ' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
address="$(sed -n 's/^LISTEN //p' "$work/serve.out")"
if [ -z "$address" ]; then echo "the store did not start" >&2; exit 1; fi

mkdir -p "$work/litmus"
cd "$work/litmus"
output="$(TESTS="$groups" litmus --keep-going "http://$address/" litmus "$password" 2>&1)" || true
echo "$output"
status=0
for group in $groups; do
  if ! grep -q "^<- summary for \`$group': .* 0 failed" <<<"$output"; then
    echo "litmus group $group failed" >&2
    status=1
  fi
done
exit $status
