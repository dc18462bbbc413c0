#!/usr/bin/env bash
# Benchmark: GET throughput of a 1 GiB file through a signed URL of the stemcell store vs
# nginx (Debian package) serving the same file, same run, same client (curl to /dev/null,
# loopback, file in the page cache). Target: store >= 0.8 x nginx. Prints MB/s and the ratio.
# RUNS (default 5) downloads each; the median counts. SIZE_MIB overrides 1024.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v nginx >/dev/null || { echo "nginx is not installed: apt-get install nginx" >&2; exit 2; }
runs="${RUNS:-5}"
size_mib="${SIZE_MIB:-1024}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

cargo build -q --release -p stemcell-store --example serve
mkdir -p "$work/stemcells" "$work/nginx"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/stemcells/bench.qcow2"

target/release/examples/serve "$work/stemcells" 127.0.0.1:0 bench "bench-$RANDOM" bench.qcow2 >"$work/serve.out" &
pids+=($!)
for _ in $(seq 1 100); do grep -q '^URL ' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
store_url="$(sed -n 's/^URL //p' "$work/serve.out")"

# nginx workers run as an unprivileged user; the store keeps its tree private (0700).
chmod 755 "$work" "$work/stemcells"; chmod 644 "$work/stemcells/bench.qcow2"
nginx_port=$((20000 + RANDOM % 20000))
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/stemcells;
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" &
pids+=($!)
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$nginx_port/bench.qcow2" -r 0-0 && break; sleep 0.1; done
curl -fs -o /dev/null -r 0-0 "http://127.0.0.1:$nginx_port/bench.qcow2" || { echo "nginx does not serve the file" >&2; cat "$work/nginx/error.log" >&2; exit 1; }
curl -fs -o /dev/null -r 0-0 "$store_url" || { echo "the store does not serve the file" >&2; exit 1; }

measure() { # url -> median bytes/s
  local url="$1" speeds=()
  curl -fs -o /dev/null "$url" # warm the page cache and the connection path
  for _ in $(seq 1 "$runs"); do
    speeds+=("$(curl -fs -o /dev/null -w '%{speed_download}' "$url")")
  done
  printf '%s\n' "${speeds[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
# Interleave to share any machine noise fairly.
store_speed="$(measure "$store_url")"
nginx_speed="$(measure "http://127.0.0.1:$nginx_port/bench.qcow2")"
store_speed2="$(measure "$store_url")"
nginx_speed2="$(measure "http://127.0.0.1:$nginx_port/bench.qcow2")"
awk -v s1="$store_speed" -v s2="$store_speed2" -v n1="$nginx_speed" -v n2="$nginx_speed2" -v mib="$size_mib" 'BEGIN {
  s = (s1 > s2 ? s1 : s2); n = (n1 > n2 ? n1 : n2);
  printf "file=%d MiB store=%.0f MB/s nginx=%.0f MB/s ratio=%.2f (target >= 0.80)\n", mib, s/1e6, n/1e6, s/n;
  exit (s/n >= 0.8 ? 0 : 1)
}'
