#!/usr/bin/env bash
# Server memory under multipart bodies that never frame: four 256 MiB bodies without a
# boundary, then four part headers of 128 MiB that never end, sent at once to a release
# server; prints the peak RSS during each and each answer (400 within milliseconds).
# Usage: scripts/bench_multipart_attack.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${SILO_BENCH_PORT:-18111}
. scripts/bench/server.sh
silo_bench_setup
silo_start "$BIN" "$PORT" "$DATA"
silo_company_admin "$(silo_login $ROOT_EMAIL $ROOT_PASSWORD)" "M Co" a@bench.test \
    bench-user-password-1 >/dev/null
TOKEN=$(silo_login a@bench.test bench-user-password-1)
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
peak() { local max=0 r; while kill -0 "$@" 2>/dev/null; do r=$(rss); [ "$r" -gt "$max" ] && max=$r; sleep 0.1; done; echo "$max"; }
post() {
    curl -s -o /dev/null -w "$1: %{http_code} in %{time_total}s\n" -X POST "$BASE/api/documents" \
        -H "authorization: Bearer $TOKEN" -H 'content-type: multipart/form-data; boundary=XYZ' \
        --data-binary @-
}
echo "rss before: $(rss) kB"
pids=()
for _ in 1 2 3 4; do (head -c 268435456 /dev/zero | tr '\0' 'a' | post no-boundary) & pids+=($!); done
echo "rss peak, 4 x 256 MiB without a boundary: $(peak "${pids[@]}") kB"; wait "${pids[@]}"
pids=()
for _ in 1 2 3 4; do
    ( (printf -- '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nX: '
       head -c 134217728 /dev/zero | tr '\0' 'b') | post endless-header) & pids+=($!)
done
echo "rss peak, 4 x 128 MiB part header: $(peak "${pids[@]}") kB"; wait "${pids[@]}"
echo "rss after: $(rss) kB"
