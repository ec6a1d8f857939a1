#!/usr/bin/env bash
# Sign-in under a flood: how many sign-ins per second Souk completes, and what a flood does
# to everyone else's latency (target: other routes' p99 within 2x of unloaded).
#
#   bench/login-flood.sh [seconds] [flood-connections]
#
# Runs `souk serve` (release, SQLite, demo data) with the general rate limiter off. Three
# measurements of GET /api/v1/listings (8 connections): unloaded; while wrk floods
# POST /api/v1/auth/login with a correct password from one address with the per-address
# sign-in gate wide open (every request hashes: the worst case for CPU); and while the
# flood meets the default gate (20 per minute per address: refused before hashing).
# wrk and the server share the machine; say so next to any figure. Needs wrk and curl.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
flood=${2:-32}
command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -p souk-cli --quiet
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
url=https://localhost:18443

start() { # $1: sign-in attempts per minute per address and per network
  [ -n "$pid" ] && { kill "$pid"; wait "$pid" 2>/dev/null || true; }
  SOUK_SERVER_DATA_DIR="$dir/data" SOUK_SERVER_HTTPS_ADDR=127.0.0.1:18443 SOUK_SERVER_HTTP_ADDR= \
    SOUK_SERVER_PUBLIC_URL=$url SOUK_RATE_LIMIT_ENABLED=false SOUK_LOG_LEVEL=warn \
    SOUK_IDENTITY_LOGIN_PER_ADDRESS_PER_MINUTE="$1" SOUK_IDENTITY_LOGIN_PER_NETWORK_PER_MINUTE="$1" \
    "$target_dir"/release/souk serve >"$dir/out.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -skf --resolve localhost:18443:127.0.0.1 $url/readyz >/dev/null 2>&1 && break
    sleep 0.1
  done
}

cat >"$dir/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"flood@example.com","password":"correct horse battery staple 42"}'
LUA

latency() { # label
  echo "-- $1: GET /api/v1/listings, wrk -t1 -c8 -d${secs}s"
  wrk -t1 -c8 -d"${secs}s" --latency "https://127.0.0.1:18443/api/v1/listings" |
    grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors"
}

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -sr)"
start 1000000
curl -sk --resolve localhost:18443:127.0.0.1 -H 'content-type: application/json' -H "origin: $url" \
  -d '{"email":"flood@example.com","name":"Flood","password":"correct horse battery staple 42"}' \
  $url/api/v1/auth/signup >/dev/null
sleep 1
latency "unloaded"

echo
echo "== flood with the gate wide open (every attempt hashes): wrk -t1 -c$flood -d${secs}s POST /api/v1/auth/login"
wrk -t1 -c"$flood" -d"$((secs + 4))s" --latency -s "$dir/login.lua" "https://127.0.0.1:18443/api/v1/auth/login" \
  >"$dir/flood.txt" &
flood_pid=$!
sleep 2
latency "during the flood"
wait $flood_pid
grep -E "Requests/sec|50%|99%|Non-2xx|requests in" "$dir/flood.txt" | sed 's/^/  login: /'

echo
start 20
echo "== flood against the default gate (20 per minute per address)"
wrk -t1 -c"$flood" -d"$((secs + 4))s" --latency -s "$dir/login.lua" "https://127.0.0.1:18443/api/v1/auth/login" \
  >"$dir/flood2.txt" &
flood_pid=$!
sleep 2
latency "during the gated flood"
wait $flood_pid
grep -E "Requests/sec|50%|99%|Non-2xx|requests in" "$dir/flood2.txt" | sed 's/^/  login: /'
