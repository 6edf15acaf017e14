#!/usr/bin/env bash
# Runs the whole test suite: unit tests and the integration tests (real SQLite files in
# temporary directories, the real router). Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
else
    cargo test --no-fail-fast "$@"
fi
