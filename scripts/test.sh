#!/usr/bin/env bash
# Runs the whole test suite: formatting and lints (rustfmt, clippy with warnings as
# errors), then unit tests and the integration tests (real SQLite files in temporary
# directories, the real router), then the console's browser test (Chromium), then
# schemathesis against a real server and its OpenAPI document. Installs what the tests need first.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# Formatting and lints first: a failure here is cheaper to read than a test failure.
cargo fmt --check
cargo clippy --all-targets -- -D warnings
# The model is in place now: tests that use it must run, not skip.
export SILO_REQUIRE_MODEL=1
if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --no-fail-fast "$@"
else
    cargo test --no-fail-fast "$@"
fi
# The web console in a real browser, against a real server (the binary the tests built).
cargo build --quiet
node tests/browser/console.mjs target/debug/silo
# The OpenAPI document is the contract: schemathesis checks a real server against it.
scripts/schemathesis.sh
