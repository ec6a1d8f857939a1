#!/usr/bin/env bash
# Load benchmark of catalog browsing on `souk serve` (release build, demo data) with wrk over
# HTTPS, on SQLite or PostgreSQL: a page of listings (API), a listing page (HTML, with its
# variants and photos), one listing (API), and full-text search (API).
#
#   bench/catalog-load.sh [sqlite|postgres] [seconds-per-run] [connections]
#
# PostgreSQL: a database `souk_bench` is created afresh on 127.0.0.1:5432 (user postgres,
# trust auth). wrk runs on the same machine with one thread, so the server has the other
# core; say so next to any figure. Rate limiting is off for the run (one client address).
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
secs=${2:-15}
conns=${3:-32}
command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -p souk-cli --quiet
dir=$(mktemp -d)
db_env=()
if [ "$backend" = postgres ]; then
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS souk_bench WITH (FORCE)"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE souk_bench"
  db_env=(SOUK_DATABASE_URL=postgres://postgres@127.0.0.1:5432/souk_bench)
fi
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
env "${db_env[@]}" SOUK_SERVER_DATA_DIR="$dir/data" SOUK_SERVER_HTTPS_ADDR=127.0.0.1:18443 SOUK_SERVER_HTTP_ADDR= \
  SOUK_RATE_LIMIT_ENABLED=false SOUK_LOG_LEVEL=warn "$target_dir"/release/souk serve >"$dir/out.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  curl -skf https://127.0.0.1:18443/readyz >/dev/null 2>&1 && break
  sleep 0.1
done
sleep 1
listing=$(curl -sk "https://127.0.0.1:18443/api/v1/listings?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
echo "backend: $backend; machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -sr)"
for path in "/api/v1/listings" "/listings/$listing" "/api/v1/listings/$listing" "/api/v1/listings?q=linen" "/api/v1/listings?q=hand%20made&category=home"; do
  echo
  echo "== GET $path: wrk -t1 -c$conns -d${secs}s --latency"
  wrk -t1 -c"$conns" -d"${secs}s" --latency "https://127.0.0.1:18443$path" | grep -E "Requests/sec|Latency|50%|90%|99%|Non-2xx|Socket errors|requests in"
done
echo
echo "RSS after load: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
