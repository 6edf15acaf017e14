#!/usr/bin/env bash
# Graceful shutdown under load: a release server answers POST /api/usage to 64 wrk
# connections; after 2 s it gets SIGTERM. Repeated N times; prints per run how many requests
# wrk completed and its socket errors (read = a request sent on a connection that closed
# without an answer; connect = refused once the listener closed, never sent; write = wrk
# writing to connections the server had closed, never read).
# Usage: scripts/bench_shutdown.sh [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
PORT=${SILO_BENCH_PORT:-18093}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
. scripts/bench/server.sh
silo_bench_setup
silo_start "$BIN" "$PORT" "$DATA"
silo_company_admin "$(silo_login $ROOT_EMAIL $ROOT_PASSWORD)" "Bench Co" a@bench.test \
    bench-user-password-1 >/dev/null
silo_stop
export BODY='{"provider":"custom","model":"m","operation_type":"chat","prompt_tokens":1,"completion_tokens":1}'
export TOKEN
for run in $(seq "$RUNS"); do
    silo_start "$BIN" "$PORT" "$DATA"
    TOKEN=$(silo_login a@bench.test bench-user-password-1)
    wrk -t2 -c64 -d4s -s scripts/bench/post.lua "$BASE/api/usage" >"$DATA/wrk" 2>&1 &
    WRK=$!
    sleep 2
    kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=""
    wait "$WRK" || true
    answered=$(awk '/requests in/ {print $1}' "$DATA/wrk")
    errors=$(grep "Socket errors" "$DATA/wrk" || echo "Socket errors: none")
    echo "run $run: $answered requests answered; $errors"
done
