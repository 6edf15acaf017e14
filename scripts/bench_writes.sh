#!/usr/bin/env bash
# Write paths under 64 concurrent clients, in one run against one release `silo serve`:
# batched usage records (the group commit), usage records linked to a conversation (one
# transaction each), saved reports and messages (plain inserts). Each is run twice,
# alternating, so a noisy neighbour on the machine hits all of them alike.
# Prints requests/s and latency p50/p99 per path.
# Usage: scripts/bench_writes.sh [SECONDS_PER_RUN=10] [CONNECTIONS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
CONNS=${2:-64}
PORT=${SILO_BENCH_PORT:-18091}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
. scripts/bench/server.sh
silo_bench_setup
silo_start "$BIN" "$PORT" "$DATA"
ROOT=$(silo_login $ROOT_EMAIL $ROOT_PASSWORD)
silo_company_admin "$ROOT" "Bench Co" admin@bench.test bench-user-password-1 >/dev/null
export TOKEN
TOKEN=$(silo_login admin@bench.test bench-user-password-1)
CONV=$(curl -sf "$BASE/api/conversations" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d '{"title":"bench"}' | json "['id']")

declare -A PATHS BODIES
PATHS[usage_batched]=/api/usage
BODIES[usage_batched]='{"provider":"custom","model":"deepseek-chat","operation_type":"chat","prompt_tokens":1200,"completion_tokens":350}'
PATHS[usage_linked]=/api/usage
BODIES[usage_linked]="{\"provider\":\"custom\",\"model\":\"deepseek-chat\",\"operation_type\":\"chat\",\"prompt_tokens\":1200,\"completion_tokens\":350,\"conversation_id\":\"$CONV\"}"
PATHS[report]=/api/reports
BODIES[report]='{"title":"Q3 summary","report_type":"summary","report_data":{"revenue":1200,"note":"benchmark"}}'
PATHS[message]=/api/conversations/$CONV/messages
BODIES[message]='{"content":"How did revenue develop in the third quarter?"}'
ORDER=(usage_batched report message usage_linked)

ms() { # wrk latency (e.g. 1.23ms, 850.00us, 1.2s) in milliseconds
    python3 -c "import sys,re; v=sys.argv[1]; n=float(re.match(r'[0-9.]+',v).group()); u=v[len(re.match(r'[0-9.]+',v).group()):]; print(round(n*{'us':0.001,'ms':1,'s':1000}[u],3))" "$1"
}
declare -A RPS P50 P99
for round in 1 2; do
    for name in "${ORDER[@]}"; do
        out=$(BODY=${BODIES[$name]} wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency \
            -s scripts/bench/post.lua "$BASE${PATHS[$name]}")
        if echo "$out" | grep -q "Non-2xx"; then echo "$name: errors"; echo "$out"; exit 1; fi
        rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
        p50=$(ms "$(echo "$out" | awk '$1=="50%" {print $2}')")
        p99=$(ms "$(echo "$out" | awk '$1=="99%" {print $2}')")
        RPS[$name]="${RPS[$name]:-} $rps"; P50[$name]="${P50[$name]:-} $p50"; P99[$name]="${P99[$name]:-} $p99"
    done
done
printf "%-14s %18s %18s %18s\n" path "req/s (runs)" "p50 ms (runs)" "p99 ms (runs)"
for name in "${ORDER[@]}"; do
    printf "%-14s %18s %18s %18s\n" "$name" "${RPS[$name]}" "${P50[$name]}" "${P99[$name]}"
done
