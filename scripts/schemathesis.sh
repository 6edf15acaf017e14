#!/usr/bin/env bash
# Property-based tests of the API against its own OpenAPI document: schemathesis (pinned
# with hashes in scripts/requirements-schemathesis.txt, installed by scripts/setup.sh) runs
# every check it has (all are on unless scripts/schemathesis.toml names an exception) against
# a real `silo serve`, once as a company admin and once as the
# super admin. Any failure (a 5xx, an undocumented status, a body that does not match its
# schema, a limit the server enforces but the document does not state) fails the run.
# Usage: scripts/schemathesis.sh [MAX_EXAMPLES=25]
# The generator's seed is fixed (SCHEMATHESIS_SEED) so CI runs the same cases every time;
# SCHEMATHESIS_SEED=random explores new ones.
set -euo pipefail
cd "$(dirname "$0")/.."
MAX_EXAMPLES=${1:-25}
SEED=${SCHEMATHESIS_SEED:-223406032119260024770215190933396922790}
SEED_ARGS=(--seed "$SEED"); [ "$SEED" = random ] && SEED_ARGS=()
ST=${SILO_TOOLS_DIR:-.tools}/venv/bin/schemathesis
[ -x "$ST" ] || { echo "schemathesis is not installed: run scripts/setup.sh"; exit 1; }
cargo build --quiet
BIN=${CARGO_TARGET_DIR:-target}/debug/silo
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
. scripts/bench/server.sh
DATA=$(mktemp -d)
trap 'silo_stop; rm -rf "$DATA"' EXIT
# No login limits: schemathesis sends many wrong passwords on purpose.
silo_start "$BIN" "$PORT" "$DATA" SILO_LOGIN_LIMIT_ADDRESS=0 SILO_LOGIN_LIMIT_ACCOUNT_ADDRESS=0 \
    SILO_LOGIN_LIMIT_ACCOUNT=0
ROOT=$(silo_login $ROOT_EMAIL $ROOT_PASSWORD)
silo_company_admin "$ROOT" "Schema Co" admin@st.test st-user-password-1 >/dev/null
ADMIN=$(silo_login admin@st.test st-user-password-1)
status=0
for who in company-admin super-admin; do
    token=$ADMIN; [ "$who" = super-admin ] && token=$ROOT
    echo "== schemathesis as the $who =="
    "$ST" --config-file scripts/schemathesis.toml run "$BASE/api/openapi.json" --max-examples "$MAX_EXAMPLES" "${SEED_ARGS[@]}" \
        --header "Authorization: Bearer $token" --no-color --suppress-health-check all \
        || status=1
done
if [ $status -ne 0 ]; then echo "server log:"; tail -50 "$DATA/server.log"; fi
exit $status
