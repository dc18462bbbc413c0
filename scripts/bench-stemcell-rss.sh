#!/usr/bin/env bash
# Peak memory of the daemon while it publishes a 4 GiB (sparse) stemcell image.
#
# The real release binaries run as separate processes: the emulator (which downloads the image
# from the daemon's WebDAV store over HTTP, as CloudStack's secondary storage VM does, and checks
# its SHA-256), the daemon, and the shim that sends `create_stemcell`. The figure is the daemon's
# VmHWM (peak resident set) from /proc, before and after the publication.
# Target: under 64 MiB. Usage: scripts/bench-stemcell-rss.sh [SIZE]   (default 4G)
set -euo pipefail
size="${1:-4G}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

echo "Building release binaries..." >&2
cargo build --release --quiet -p cpi-shim -p cpid -p cloudstack-sim
target_dir="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
release="$target_dir/release"

work="$(mktemp -d /tmp/cpi-rss.XXXXXX)"
sim_pid=""
daemon_pid=""
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null || true
    [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

mkfifo "$work/sim.out"
"$release/cloudstack-sim" --listen 127.0.0.1:0 --api-key bench-key --secret-key bench-secret \
    --job-duration-ms 50 >"$work/sim.out" 2>"$work/sim.log" &
sim_pid=$!
read -r sim_url <"$work/sim.out"
cat "$work/sim.out" >/dev/null &

webdav_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cat >"$work/cpi.json" <<JSON
{
  "cloudstack": {"endpoint": "$sim_url", "api_key": "bench-key", "secret_access_key": "bench-secret",
                 "default_zone": "zone1", "stemcell": {"publish_timeout": 600}},
  "daemon": {"state_dir": "$work/state", "log_file": "$work/cpid.log"},
  "webdav": {"listen": "127.0.0.1:$webdav_port", "public_url": "http://127.0.0.1:$webdav_port",
             "user": "bench", "password": "bench-password"}
}
JSON
CPID_LOG=warn "$release/cpid" serve --config "$work/cpi.json" &
daemon_pid=$!
for _ in $(seq 1 200); do [ -S "$work/state/cpid.sock" ] && break; sleep 0.05; done

# A sparse file on another directory than the store forces the streamed copy path when the
# store is on another filesystem; on the same filesystem the daemon hard-links it.
truncate -s "$size" "$work/image"
idle_kib="$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")"
request="{\"method\":\"create_stemcell\",\"arguments\":[\"$work/image\",{\"name\":\"bosh-cloudstack-xen-ubuntu-jammy-go_agent\",\"version\":\"1.0\",\"hypervisor\":\"xen\",\"disk_format\":\"vhdx\"}],\"context\":{\"director_uuid\":\"bench\",\"request_id\":\"cpi-100001\"},\"api_version\":2}"
started="$(date +%s.%N)"
response="$(printf '%s' "$request" | CPI_CONFIG="$work/cpi.json" "$release/cpi")"
finished="$(date +%s.%N)"
case "$response" in
    *'"error":null'*) ;;
    *) echo "create_stemcell failed: $response" >&2; exit 1 ;;
esac
peak_kib="$(awk '/VmHWM/ {print $2}' "/proc/$daemon_pid/status")"
awk -v idle="$idle_kib" -v peak="$peak_kib" -v t0="$started" -v t1="$finished" -v size="$size" 'BEGIN {
    printf "published a %s sparse image in %.1f s\n", size, t1 - t0
    printf "daemon peak RSS: %.1f MiB (idle before: %.1f MiB; target < 64 MiB)\n", peak / 1024, idle / 1024
}'
