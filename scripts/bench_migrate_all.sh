#!/usr/bin/env bash
# Benchmark `silo migrate-all-companies`: 10,000 small companies one schema version behind,
# migrated with backups at concurrency 1 and 2, then once more with everything current.
#
#   scripts/bench_migrate_all.sh [COMPANIES] [DIR]
#
# Setup copies one V1 template database into place for every company and inserts the
# company rows in one transaction (see examples/bench_migrate_all.rs), so it takes seconds,
# not the minutes real provisioning of 10,000 companies would. Needs ~3 GB free in DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
companies="${1:-10000}"
dir="${2:-${TMPDIR:-/tmp}/silo-bench-migrate}"
cargo build --release --quiet --bin silo --example bench_migrate_all
target="${CARGO_TARGET_DIR:-target}"
"$target/release/examples/bench_migrate_all" \
    --companies "$companies" --dir "$dir" --concurrency "${CONCURRENCY:-1,2}" --silo "$target/release/silo"
