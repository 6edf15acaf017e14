#!/usr/bin/env bash
# Benchmarks of the company workspace API, against a release `silo serve` on 127.0.0.1:
#   1. POST /api/usage with 64 concurrent clients (wrk): requests/s and errors.
#   2. GET /api/usage/summary over 1,000,000 token_usage rows: latency per grouping.
#   3. Ingestion: a few MB of text uploaded, chunks stored per second.
# Usage: scripts/bench_workspace.sh [DURATION_SECONDS=15] [ROWS=1000000] [TEXT_MB=4]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-15}
ROWS=${2:-1000000}
TEXT_MB=${3:-4}
PORT=${SILO_BENCH_PORT:-18089}
BASE="http://127.0.0.1:$PORT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3; }
command -v jq >/dev/null || { apt-get update -qq && apt-get install -y -qq jq; }
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/silo
DATA=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT

start() {
    SILO_DATA_DIR="$DATA" SILO_LISTEN="127.0.0.1:$PORT" SILO_ADMIN_EMAIL=root@bench.test \
        SILO_ADMIN_PASSWORD=bench-root-password-1 RUST_LOG=warn "$BIN" serve >"$DATA.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && return; sleep 0.1; done
    echo "server did not start"; cat "$DATA.log"; exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; }
login() {
    curl -sf "$BASE/api/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"$2\"}" | jq -r .access_token
}

start
ROOT=$(login root@bench.test bench-root-password-1)
COMPANY=$(curl -sf "$BASE/api/admin/companies" -H "authorization: Bearer $ROOT" \
    -H 'content-type: application/json' -d '{"name":"Bench Co"}' | jq -r .id)
curl -sf "$BASE/api/admin/users" -H "authorization: Bearer $ROOT" -H 'content-type: application/json' \
    -d "{\"email\":\"admin@bench.test\",\"password\":\"bench-user-password-1\",\"role\":\"admin\",\"company_id\":\"$COMPANY\"}" >/dev/null
TOKEN=$(login admin@bench.test bench-user-password-1)
DB="$DATA/companies/bench-co/company.db"

echo "== 1. POST /api/usage, 64 connections, ${DURATION}s (wrk -t2 -c64) =="
TOKEN=$TOKEN wrk -t2 -c64 -d"${DURATION}s" --latency -s scripts/bench/usage.lua "$BASE/api/usage" | tee "$DATA.wrk"
RECORDED=$(sqlite3 "$DB" "SELECT COUNT(*) FROM token_usage")
echo "rows recorded: $RECORDED"

echo "== 2. GET /api/usage/summary over $ROWS rows =="
# Rows spread over 90 days, 4 providers x 3 models, 5 operations, 50 users (inserted with
# sqlite3 directly: this measures reading, not writing).
sqlite3 "$DB" <<SQL
PRAGMA journal_mode=WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $ROWS)
INSERT INTO token_usage (uuid, user_id, provider, model, operation_type, prompt_tokens,
    completion_tokens, total_tokens, embedding_tokens, estimated_cost, currency, created_at)
SELECT printf('bench-%d', i), printf('user-%d', i % 50),
       CASE i % 4 WHEN 0 THEN 'custom' WHEN 1 THEN 'ollama' WHEN 2 THEN 'openai' ELSE 'vllm' END,
       printf('model-%d', i % 3),
       CASE i % 5 WHEN 0 THEN 'chat' WHEN 1 THEN 'embedding' WHEN 2 THEN 'analysis'
                  WHEN 3 THEN 'grounding' ELSE 'explanation' END,
       100 + i % 900, 50 + i % 400, 150 + i % 900 + i % 400, 0, (i % 1000) / 1e6, 'USD',
       strftime('%Y-%m-%dT%H:%M:%fZ', '2025-01-01', printf('+%d seconds', (i * 7776) / $ROWS * 1000))
FROM n;
COMMIT;
ANALYZE;
SQL
echo "rows now: $(sqlite3 "$DB" "SELECT COUNT(*) FROM token_usage")"
summary() {
    local q=$1 best=999 t
    for _ in 1 2 3 4 5; do
        t=$(curl -s -o /dev/null -w '%{time_total}' -H "authorization: Bearer $TOKEN" "$BASE/api/usage/summary$q")
        best=$(echo "$t $best" | awk '{print ($1 < $2) ? $1 : $2}')
    done
    printf '%-70s best of 5: %6.1f ms\n' "$q" "$(echo "$best * 1000" | bc -l)"
}
summary ""
summary "?group_by=provider"
summary "?group_by=provider,model"
summary "?group_by=operation_type,provider"
summary "?group_by=user"
summary "?group_by=day"
summary "?group_by=provider,model,operation_type,user,day"
summary "?from=2025-02-01&to=2025-02-28&group_by=provider,model"
summary "?user_id=00000000-0000-4000-8000-000000000000&group_by=provider"

echo "== 3. Ingestion of ${TEXT_MB} MB of text =="
python3 - "$TEXT_MB" > "$DATA.txt" <<'PY'
import random, sys
random.seed(7)
words = "solar wind hydro grid battery demand tariff kilowatt turbine panel storage carbon budget target plant site".split()
out, size = [], 0
while size < int(sys.argv[1]) << 20:
    para = " ".join((" ".join(random.choice(words) for _ in range(random.randint(8, 20)))).capitalize() + "." for _ in range(random.randint(3, 8)))
    out.append(para); size += len(para) + 2
print("\n\n".join(out))
PY
START=$(date +%s.%N)
JOB=$(curl -sf "$BASE/api/documents" -H "authorization: Bearer $TOKEN" -F "file=@$DATA.txt;filename=bench.txt" | jq -r .job_id)
while :; do
    STATUS=$(curl -sf "$BASE/api/jobs/$JOB" -H "authorization: Bearer $TOKEN" | jq -r .status)
    [ "$STATUS" = completed ] || [ "$STATUS" = failed ] && break
    sleep 0.05
done
END=$(date +%s.%N)
JOBJSON=$(curl -sf "$BASE/api/jobs/$JOB" -H "authorization: Bearer $TOKEN")
CHUNKS=$(echo "$JOBJSON" | jq .total_items)
echo "$JOBJSON" | jq -c '{status, total_items, started_at, completed_at, error}'
JOB_SECS=$(echo "$JOBJSON" | python3 -c '
import json, sys, datetime
j = json.load(sys.stdin)
t = lambda s: datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
print((t(j["completed_at"]) - t(j["started_at"])).total_seconds())')
echo "$TEXT_MB MB → $CHUNKS chunks; job (claimed → committed) $JOB_SECS s: \
$(echo "$CHUNKS / $JOB_SECS" | bc -l | cut -d. -f1) chunks/s; upload to completed as seen by \
the client (upload, processing, polling every 50 ms): $(echo "$END - $START" | bc -l | cut -c1-6) s (no embedder)"
stop
