#!/usr/bin/env bash
# Static analysis of contracts/src with Slither (docs/static-analysis.md).
#   bash scripts/slither.sh         install/update .venv-slither, analyse, gate: exit 1 on any
#                                   High/Medium finding not justified in slither.triage.json
#   bash scripts/slither.sh --all   the same gate, but also print Slither's full report,
#                                   Low and Informational findings included
# Slither lives in its own virtualenv: its eth-abi/eth-utils conflict with .venv's web3 stack.
# There is no native solc: Slither compiles a standard-JSON input (scripts/slither_gate.py)
# through contracts/solc-wrapper.js (solcjs from node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."

SLITHER_VERSION=0.11.6
CRYTIC_COMPILE_VERSION=0.4.2
venv=.venv-slither

show_all=false
case "${1:-}" in
  "") ;;
  --all) show_all=true ;;
  *) echo "usage: bash scripts/slither.sh [--all]" >&2; exit 2 ;;
esac

started=$(date +%s)
python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3
if [ ! -x "$venv/bin/python" ]; then
  "$python_bin" -m venv "$venv"
fi
if ! "$venv/bin/python" - "$SLITHER_VERSION" "$CRYTIC_COMPILE_VERSION" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
sys.exit(0 if (version("slither-analyzer"), version("crytic-compile")) == tuple(sys.argv[1:3]) else 1)
PY
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet \
    "slither-analyzer==$SLITHER_VERSION" "crytic-compile==$CRYTIC_COMPILE_VERSION"
fi

if [ ! -f node_modules/solc/package.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$venv/bin/python" scripts/slither_gate.py input >"$tmp/input.json"

config=slither.config.json
if $show_all; then
  # Same settings, minus the Low/Informational exclusions (the gate still counts High/Medium only).
  "$venv/bin/python" - "$config" "$tmp/all.config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
for key in ("exclude_informational", "exclude_optimization", "exclude_low"):
    config[key] = False
json.dump(config, open(sys.argv[2], "w"))
PY
  config="$tmp/all.config.json"
fi

# slither.config.json: report findings that touch contracts/src (not OpenZeppelin's own), High/Medium only.
status=0
"$venv/bin/slither" "$tmp/input.json" \
  --config-file "$config" \
  --compile-force-framework solc-json \
  --solc contracts/solc-wrapper.js \
  --solc-working-dir "$PWD" \
  --fail-none \
  --json "$tmp/report.json" \
  >"$tmp/slither.log" 2>&1 || status=$?
if [ "$status" -ne 0 ] || $show_all; then
  cat "$tmp/slither.log"
fi
if [ "$status" -ne 0 ]; then
  echo "slither exited with status $status" >&2
  exit 2
fi

gate=0
"$venv/bin/python" scripts/slither_gate.py check "$tmp/report.json" --triage slither.triage.json || gate=$?
echo "slither $SLITHER_VERSION: $(($(date +%s) - started))s"
exit "$gate"
