#!/usr/bin/env bash
# Benchmarks registry GET /instances/{id}/settings (PostgreSQL backend, authenticated with the
# VM's own credential) against a trivial axum handler on the same machine, in the same run.
# Target: registry rate >= 0.5 x trivial rate, and registry p99 latency < 10 ms, at 64
# connections.
#
# Usage: scripts/bench-registry.sh            (DURATION=10s CONNECTIONS=64 THREADS=2 by default;
#        CACHE_TTL_MS=0 disables the registry's settings cache to measure raw PostgreSQL reads)
# Needs: wrk (apt-get install -y wrk), PostgreSQL server binaries (apt-get install -y postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"

if ! command -v wrk >/dev/null; then
    echo "wrk is not installed: apt-get install -y wrk" >&2
    exit 1
fi

cargo build --quiet --release -p cpi-registry --example bench_server
server=target/release/examples/bench_server

work="$(mktemp -d)"
mkfifo "$work/stdin"
"$server" <"$work/stdin" >"$work/out" 2>"$work/err" &
server_pid=$!
# Holding the fifo open keeps the server alive; closing it asks the server to stop.
exec 3>"$work/stdin"
cleanup() {
    exec 3>&- || true
    wait "$server_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Wait (bounded) for the server to report its endpoints.
for _ in $(seq 1 300); do
    grep -q '^READY=1' "$work/out" 2>/dev/null && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "bench_server exited early:" >&2
        cat "$work/err" >&2
        exit 1
    fi
    sleep 0.2
done
grep -q '^READY=1' "$work/out" || { echo "bench_server did not start in 60 s" >&2; exit 1; }
REGISTRY_URL="$(sed -n 's/^REGISTRY_URL=//p' "$work/out")"
TRIVIAL_URL="$(sed -n 's/^TRIVIAL_URL=//p' "$work/out")"
VM_USER="$(sed -n 's/^VM_USER=//p' "$work/out")"
VM_PASSWORD="$(sed -n 's/^VM_PASSWORD=//p' "$work/out")"
AUTH="Authorization: Basic $(printf '%s:%s' "$VM_USER" "$VM_PASSWORD" | base64 -w0)"

status="$(curl -s -o /dev/null -w '%{http_code}' -H "$AUTH" "$REGISTRY_URL")"
if [ "$status" != 200 ]; then
    echo "registry GET answered $status, expected 200" >&2
    exit 1
fi

run_wrk() { # url, output file
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$AUTH" "$1" >"$2"
    if grep -q 'Non-2xx' "$2"; then
        echo "non-2xx responses during the run against $1:" >&2
        cat "$2" >&2
        exit 1
    fi
}

# Short warm-up so both servers have their connections and pools established.
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H "$AUTH" "$REGISTRY_URL" >/dev/null
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$TRIVIAL_URL" >/dev/null

run_wrk "$TRIVIAL_URL" "$work/trivial.txt"
run_wrk "$REGISTRY_URL" "$work/registry.txt"

rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
p99_ms() {
    awk '$1 == "99%" {
        v = $2
        if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v) }
        else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }
        printf "%.2f", v
    }' "$1"
}

trivial_rps="$(rps "$work/trivial.txt")"
registry_rps="$(rps "$work/registry.txt")"
trivial_p99="$(p99_ms "$work/trivial.txt")"
registry_p99="$(p99_ms "$work/registry.txt")"
ratio="$(awk -v r="$registry_rps" -v t="$trivial_rps" 'BEGIN { printf "%.2f", r / t }')"

echo "cache_ttl_ms=${CACHE_TTL_MS:-1000 (default)} connections=$CONNECTIONS threads=$THREADS duration=$DURATION"
echo "trivial axum handler: ${trivial_rps} req/s, p99 ${trivial_p99} ms"
echo "registry GET (PostgreSQL, VM credential): ${registry_rps} req/s, p99 ${registry_p99} ms"
echo "ratio registry/trivial: ${ratio} (target >= 0.5); registry p99 target < 10 ms"
ok="$(awk -v r="$ratio" -v p="$registry_p99" 'BEGIN { print (r >= 0.5 && p < 10) ? "PASS" : "FAIL" }')"
echo "result: $ok"
