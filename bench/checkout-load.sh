#!/usr/bin/env bash
# Load benchmark of whole checkouts on `souk serve` (release build) with `souk load
# checkouts`: each buyer fills its cart, checks out, types a card into the vault endpoint
# (`--saved-card`: once) and pays through the vault and the simulator, over HTTPS with a
# session and CSRF; each paid checkout posts the charge and escrow to the ledger and writes
# the audit log. On SQLite or PostgreSQL.
#
#   bench/checkout-load.sh [sqlite|postgres] [max seconds] [buyers] [extra `souk load checkouts` flags, e.g. --concurrency 32]
#
# The load generator runs on the same machine, so the server shares the 2 cores with it;
# say so next to any figure. Turned off or raised for the run, because one synthetic
# population on one address would otherwise be throttled (which is their point): the
# per-address rate limit, the sign-in limits per address and network, and the vault's
# per-account card and payment limits.
set -euo pipefail
cd "$(dirname "$0")/.."
backend=${1:-sqlite}
secs=${2:-20}
buyers=${3:-400}
shift $(( $# < 3 ? $# : 3 ))
target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release -p souk-cli --quiet
dir=$(mktemp -d)
db_env=()
if [ "$backend" = postgres ]; then
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS souk_bench WITH (FORCE)"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE souk_bench"
  db_env=(SOUK_DATABASE_URL=postgres://postgres@127.0.0.1:5432/souk_bench)
fi
port=18453
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
env "${db_env[@]}" SOUK_SERVER_DATA_DIR="$dir/data" SOUK_SERVER_HTTPS_ADDR=127.0.0.1:$port SOUK_SERVER_HTTP_ADDR= \
  SOUK_SERVER_PUBLIC_URL=https://localhost:$port SOUK_DEMO_LOAD_ON_EMPTY=false \
  SOUK_RATE_LIMIT_ENABLED=false SOUK_IDENTITY_LOGIN_PER_ADDRESS_PER_MINUTE=100000 \
  SOUK_IDENTITY_LOGIN_PER_NETWORK_PER_MINUTE=100000 SOUK_PAYMENTS_VAULT_TOKENIZE_PER_MINUTE=1000000 \
  SOUK_PAYMENTS_VAULT_AUTHORIZE_PER_MINUTE=1000000 SOUK_LOG_LEVEL=warn \
  "$target_dir"/release/souk serve >"$dir/out.log" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  curl -skf --resolve localhost:$port:127.0.0.1 https://localhost:$port/readyz >/dev/null 2>&1 && break
  sleep 0.1
done
echo "backend: $backend; machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(uname -sr)"
"$target_dir"/release/souk load checkouts --url https://localhost:$port --ca "$dir/data/tls/souk-local-ca.pem" --connect 127.0.0.1:$port \
  --buyers "$buyers" --seconds "$secs" "$@"
echo "server RSS after load: $(awk '/VmRSS/{print $2, $3}' /proc/$pid/status)"
