#!/usr/bin/env bash
# Per-call overhead of the `cpi` shim, measured in one run against two baselines:
#   floor   - a std-only client that execs, connects to a trivial echo server on a Unix socket
#             and prints the reply (the least any per-call executable can do);
#   oneshot - `cpid oneshot`, the classic exec-per-call CPI: load config, build services, answer.
# It measures `info` (no CloudStack call) and `has_vm` (one CloudStack call, to the emulator
# over loopback HTTP), so the second comparison includes what the warm session saves.
# Usage: scripts/bench-shim.sh [RUNS]   (default 500; figures go to stdout)
set -euo pipefail

runs="${1:-500}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

echo "Building release binaries..." >&2
cargo build --release --quiet -p cpi-shim -p cpid -p cloudstack-sim
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
release="$target_dir/release"

work="$(mktemp -d /tmp/cpi-bench.XXXXXX)"
daemon_pid=""
echo_pid=""
sim_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null || true
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null || true
    [ -n "$echo_pid" ] && kill -TERM "$echo_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

for program in echo_server floor_client driver; do
    rustc --edition 2024 -O -o "$work/$program" "scripts/bench/$program.rs"
done

# The emulator prints the URL it listens on as its first line.
mkfifo "$work/sim.out"
"$release/cloudstack-sim" --listen 127.0.0.1:0 --api-key bench-api-key --secret-key bench-secret-key \
    >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
read -r sim_url <"$work/sim.out"
cat "$work/sim.out" >/dev/null &

cat >"$work/cpi.json" <<JSON
{
  "cloudstack": {
    "endpoint": "$sim_url",
    "api_key": "bench-api-key",
    "secret_access_key": "bench-secret-key",
    "default_zone": "zone1"
  },
  "daemon": {"state_dir": "$work/state", "log_file": "$work/cpid.log"}
}
JSON
printf '%s' '{"method":"info","arguments":[],"context":{"director_uuid":"bench","request_id":"cpi-123456"},"api_version":2}' >"$work/request.json"
printf '%s' '{"method":"has_vm","arguments":["6a1e2f9c-0000-4000-8000-00000000beef"],"context":{"director_uuid":"bench","request_id":"cpi-123457"},"api_version":2}' >"$work/has_vm.json"

"$release/cpid" serve --config "$work/cpi.json" &
daemon_pid=$!
"$work/echo_server" "$work/echo.sock" &
echo_pid=$!
for _ in $(seq 1 200); do
    [ -S "$work/state/cpid.sock" ] && [ -S "$work/echo.sock" ] && break
    sleep 0.05
done
[ -S "$work/state/cpid.sock" ] || { echo "cpid did not start; see $work/cpid.log" >&2; exit 1; }

# The director passes no argv; the shim finds its config through CPI_CONFIG here.
# Log lines are kept at warnings so that the daemon log does not grow by a line per call.
export CPI_CONFIG="$work/cpi.json"
export CPID_LOG=warn
echo "Running $runs interleaved calls per command..." >&2
results="$("$work/driver" "$runs" "$work/request.json" '"api_version":2' \
    shim "$release/cpi" \
    :: floor "$work/floor_client" "$work/echo.sock" \
    :: oneshot "$release/cpid" oneshot --config "$work/cpi.json")"
echo "$results"
echo "Running $runs interleaved has_vm calls (one CloudStack call each)..." >&2
has_vm_results="$("$work/driver" "$runs" "$work/has_vm.json" '"result":false' \
    shim "$release/cpi" \
    :: oneshot "$release/cpid" oneshot --config "$work/cpi.json")"
echo "$has_vm_results" | sed 's/^/has_vm /'

rss_kib="$(/usr/bin/time -f '%M' "$release/cpi" <"$work/request.json" 2>&1 >/dev/null | tail -n 1)"
floor_rss_kib="$(/usr/bin/time -f '%M' "$work/floor_client" "$work/echo.sock" <"$work/request.json" 2>&1 >/dev/null | tail -n 1)"
oneshot_rss_kib="$(/usr/bin/time -f '%M' "$release/cpid" oneshot --config "$work/cpi.json" <"$work/request.json" 2>&1 >/dev/null | tail -n 1)"

median() { echo "$results" | awk -v name="$1" '$1 == name { sub("median_us=", "", $3); print $3 }'; }
shim="$(median shim)"
floor="$(median floor)"
oneshot="$(median oneshot)"
awk -v s="$shim" -v f="$floor" -v o="$oneshot" 'BEGIN {
    printf "shim/floor median ratio:   %.2f (target <= 1.50)\n", s / f
    printf "shim/oneshot median ratio: %.2f\n", s / o
    printf "shim median:               %.3f ms (target <= 3 ms)\n", s / 1000
}'
echo "peak RSS: shim ${rss_kib} KiB, floor ${floor_rss_kib} KiB, oneshot ${oneshot_rss_kib} KiB"
has_vm_median() { echo "$has_vm_results" | awk -v name="$1" '$1 == name { sub("median_us=", "", $3); print $3 }'; }
awk -v s="$(has_vm_median shim)" -v o="$(has_vm_median oneshot)" 'BEGIN {
    printf "has_vm: shim median %.3f ms, oneshot median %.3f ms, shim/oneshot %.2f\n", s / 1000, o / 1000, s / o
}'
