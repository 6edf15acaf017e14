#!/usr/bin/env bash
# Property-based tests of the API against its own OpenAPI document: schemathesis (pinned
# with hashes in scripts/requirements-schemathesis.txt, installed by scripts/setup.sh) runs
# every check it has (all are on unless scripts/schemathesis.toml names an exception) against
# a real `silo serve`, once as a company admin and once as the
# super admin. Any failure (a 5xx, an undocumented status, a body that does not match its
# schema, a limit the server enforces but the document does not state) fails the run.
# Usage: scripts/schemathesis.sh [MAX_EXAMPLES=25]
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXAMPLES=${1:-25}
ST=${SILO_TOOLS_DIR:-.tools}/venv/bin/schemathesis
[ -x "$ST" ] || { echo "schemathesis is not installed: run scripts/setup.sh"; exit 1; }
cargo build --quiet
BIN=${CARGO_TARGET_DIR:-target}/debug/silo
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
DATA=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
# Generous login limits: schemathesis sends many wrong passwords on purpose.
SILO_DATA_DIR="$DATA/data" SILO_LISTEN="127.0.0.1:$PORT" SILO_ADMIN_EMAIL=root@st.test \
    SILO_ADMIN_PASSWORD=st-root-password-1 SILO_EMBEDDER=lexical SILO_LOGIN_LIMIT_ADDRESS=0 \
    SILO_LOGIN_LIMIT_ACCOUNT_ADDRESS=0 SILO_LOGIN_LIMIT_ACCOUNT=0 RUST_LOG=warn \
    "$BIN" serve >"$DATA/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
login() {
    curl -sf "$BASE/api/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"$2\"}" | json "['access_token']"
}
ROOT=$(login root@st.test st-root-password-1)
COMPANY=$(curl -sf "$BASE/api/admin/companies" -H "authorization: Bearer $ROOT" \
    -H 'content-type: application/json' -d '{"name":"Schema Co"}' | json "['id']")
curl -sf "$BASE/api/admin/users" -H "authorization: Bearer $ROOT" -H 'content-type: application/json' \
    -d "{\"email\":\"admin@st.test\",\"password\":\"st-user-password-1\",\"role\":\"admin\",\"company_id\":\"$COMPANY\"}" >/dev/null
ADMIN=$(login admin@st.test st-user-password-1)
status=0
for who in company-admin super-admin; do
    token=$ADMIN; [ "$who" = super-admin ] && token=$ROOT
    echo "== schemathesis as the $who =="
    "$ST" --config-file scripts/schemathesis.toml run "$BASE/api/openapi.json" --max-examples "$MAX_EXAMPLES" \
        --header "Authorization: Bearer $token" --no-color --suppress-health-check all \
        || status=1
done
if [ $status -ne 0 ]; then echo "server log:"; tail -50 "$DATA/server.log"; fi
exit $status
