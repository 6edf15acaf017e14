# Shared by the scripts that drive a real `silo serve` (source it; needs bash, curl, python3):
#   silo_start BIN PORT DATA [ENV=VALUE ...]  serve DATA/data on 127.0.0.1:PORT (sets SERVER,
#                                             BASE; log in DATA/server.log); waits for /healthz
#   silo_stop                                 stops it
#   silo_login EMAIL PASSWORD                 prints an access token
#   silo_company_admin ROOT_TOKEN NAME EMAIL PASSWORD
#                                             creates a company and an admin in it; prints its id
#   json '["key"]'                            reads stdin as JSON, prints that value
#   silo_bench_setup                          builds the release binary (sets BIN), makes a
#                                             temporary DATA and stops and removes all at exit
# The first super admin is root@bench.test / bench-root-password-1.

ROOT_EMAIL=root@bench.test
ROOT_PASSWORD=bench-root-password-1

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

silo_start() {
    local bin=$1 port=$2 data=$3
    shift 3
    BASE="http://127.0.0.1:$port"
    env SILO_DATA_DIR="$data/data" SILO_LISTEN="127.0.0.1:$port" SILO_ADMIN_EMAIL=$ROOT_EMAIL \
        SILO_ADMIN_PASSWORD=$ROOT_PASSWORD SILO_EMBEDDER=lexical RUST_LOG=warn "$@" \
        "$bin" serve >>"$data/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && return 0; sleep 0.1; done
    echo "server did not start"; cat "$data/server.log"; return 1
}

silo_stop() {
    [ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    SERVER=""
    return 0
}

silo_login() {
    curl -sf "$BASE/api/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$1\",\"password\":\"$2\"}" | json "['access_token']"
}

silo_company_admin() {
    local root=$1 name=$2 email=$3 password=$4 company
    company=$(curl -sf "$BASE/api/admin/companies" -H "authorization: Bearer $root" \
        -H 'content-type: application/json' -d "{\"name\":\"$name\"}" | json "['id']")
    curl -sf "$BASE/api/admin/users" -H "authorization: Bearer $root" \
        -H 'content-type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"$password\",\"role\":\"admin\",\"company_id\":\"$company\"}" >/dev/null
    echo "$company"
}

silo_bench_setup() {
    # SILO_BIN runs that binary instead of building this checkout (to compare two builds).
    if [ -n "${SILO_BIN:-}" ]; then
        BIN=$SILO_BIN
    else
        cargo build --release --quiet
        BIN=${CARGO_TARGET_DIR:-target}/release/silo
    fi
    DATA=$(mktemp -d)
    trap 'silo_stop; rm -rf "$DATA"' EXIT
}
