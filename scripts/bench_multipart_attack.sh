#!/usr/bin/env bash
# Server memory under multipart bodies that never frame: four 256 MiB bodies without a
# boundary, then four part headers of 128 MiB that never end, sent at once to a release
# server; prints the peak RSS during each and each answer (400 within milliseconds).
# Usage: scripts/bench_multipart_attack.sh
set -u
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/silo
D=$(mktemp -d); PORT=18111; B=http://127.0.0.1:$PORT
SILO_DATA_DIR=$D/data SILO_LISTEN=127.0.0.1:$PORT SILO_ADMIN_EMAIL=root@m.test SILO_ADMIN_PASSWORD=root-password-1 SILO_EMBEDDER=lexical RUST_LOG=warn $BIN serve > $D/log 2>&1 & PID=$!; sleep 2
j() { python3 -c "import json,sys;print(json.load(sys.stdin)['$1'])"; }
ROOT=$(curl -s $B/api/auth/login -H 'content-type: application/json' -d '{"email":"root@m.test","password":"root-password-1"}' | j access_token)
CID=$(curl -s $B/api/admin/companies -H "authorization: Bearer $ROOT" -H 'content-type: application/json' -d '{"name":"M Co"}' | j id)
curl -s $B/api/admin/users -H "authorization: Bearer $ROOT" -H 'content-type: application/json' -d "{\"email\":\"a@m.test\",\"password\":\"user-password-1\",\"role\":\"analyst\",\"company_id\":\"$CID\"}" >/dev/null
TOK=$(curl -s $B/api/auth/login -H 'content-type: application/json' -d '{"email":"a@m.test","password":"user-password-1"}' | j access_token)
rss() { awk '/VmRSS/ {print $2}' /proc/$PID/status; }
sample() { local max=0; while kill -0 "$@" 2>/dev/null; do r=$(rss); [ "$r" -gt "$max" ] && max=$r; sleep 0.1; done; echo $max; }
echo "rss before: $(rss) kB"
pids=()
for i in 1 2 3 4; do (head -c 268435456 /dev/zero | tr '\0' 'a' | curl -s -o /dev/null -w "no-boundary: %{http_code} in %{time_total}s\n" -X POST $B/api/documents -H "authorization: Bearer $TOK" -H 'content-type: multipart/form-data; boundary=XYZ' --data-binary @-) & pids+=($!); done
echo "rss peak, 4 x 256 MiB without a boundary: $(sample ${pids[@]}) kB"; wait ${pids[@]}
pids=()
for i in 1 2 3 4; do ( (printf -- '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nX: '; head -c 134217728 /dev/zero | tr '\0' 'b') | curl -s -o /dev/null -w "endless header: %{http_code} in %{time_total}s\n" -X POST $B/api/documents -H "authorization: Bearer $TOK" -H 'content-type: multipart/form-data; boundary=XYZ' --data-binary @-) & pids+=($!); done
echo "rss peak, 4 x 128 MiB part header: $(sample ${pids[@]}) kB"; wait ${pids[@]}
echo "rss after: $(rss) kB"
kill $PID; wait $PID 2>/dev/null; rm -rf $D
