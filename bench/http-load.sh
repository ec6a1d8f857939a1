#!/usr/bin/env bash
# Load benchmark of `souk serve` (release build, SQLite, demo data) with wrk over HTTPS:
# GET /healthz and GET / (the home page, which reads 24 listings from the database and
# renders the template). Also records the idle resident memory of the server.
#
#   bench/http-load.sh [seconds-per-run] [connections]
#
# wrk runs on the same machine with one thread, so the server has the other core(s); say so
# next to any figure. Needs wrk (apt-get install wrk). Rate limiting is turned off for the
# run: one client address would otherwise be throttled, which is the point of the limiter.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
conns=${2:-32}
command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -p souk-cli --quiet
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
SOUK_SERVER_DATA_DIR="$dir/data" SOUK_SERVER_HTTPS_ADDR=127.0.0.1:18443 SOUK_SERVER_HTTP_ADDR= \
  SOUK_RATE_LIMIT_ENABLED=false SOUK_LOG_LEVEL=warn "$target_dir"/release/souk serve >"$dir/out.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -skf https://127.0.0.1:18443/readyz >/dev/null 2>&1 && break
  sleep 0.1
done
sleep 1
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -sr)"
echo "idle RSS after start: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
for path in /healthz /; do
  echo
  echo "== GET $path: wrk -t1 -c$conns -d${secs}s --latency"
  wrk -t1 -c"$conns" -d"${secs}s" --latency "https://127.0.0.1:18443$path" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors|requests in"
done
echo
echo "RSS after load: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
sleep 5
echo "RSS 5 s after load: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
