#!/usr/bin/env bash
# Install everything the project needs on a fresh machine (idempotent).
#   bash scripts/bootstrap.sh          runtime: Python venv + npm packages
#   bash scripts/bootstrap.sh --test   plus the test tools: zbar-tools (QR decoding),
#                                      PostgreSQL (started, with a `takasago` role) and Chromium
set -euo pipefail
cd "$(dirname "$0")/.."

target="."
[ "${1:-}" = "--test" ] && target=".[test]"

python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3
if [ ! -x .venv/bin/python ]; then
  "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e "${target}"

# The node executes blocks on PyPy in a worker process where it is installed (node/execution_worker.py):
# Debian's PyPy and a venv with the same py-evm. Without it the node executes in its own process.
if ! command -v pypy3 >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pypy3 pypy3-dev >/dev/null; } \
    || echo "bootstrap: PyPy could not be installed; the node will execute blocks in its own process" >&2
fi
if command -v pypy3 >/dev/null 2>&1; then
  [ -x .venv-pypy/bin/python ] || pypy3 -m venv .venv-pypy
  .venv-pypy/bin/python -m pip install --quiet --upgrade pip
  .venv-pypy/bin/python -m pip install --quiet -r node/pypy-requirements.txt
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  apt-get update -qq && apt-get install -y -qq nodejs npm
fi
# solc (offline compiler), OpenZeppelin sources, ethers/anvil/hardhat for tests and benchmarks
npm ci --no-audit --no-fund --loglevel=error

# the monthly paper statements embed a Japanese font (IPAex Gothic): wherever statements are made
if [ ! -e /usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf ] && [ ! -e /usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-ipaexfont-gothic >/dev/null
fi

if [ "${1:-}" = "--test" ]; then
  # Debian packages the tests use: zbarimg decodes the QR images; PostgreSQL is the
  # production database the wallet API is tested against; Chromium (and an emoji font) for the web pages.
  missing=()
  command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
  command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # pdftoppm and pdftotext read the paper statements back in their tests
  command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
  # the help menu's task icons are emoji: without this font the screenshots show empty boxes
  [ -e /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ] || missing+=(fonts-noto-color-emoji)
  if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  bash scripts/test_postgres.sh
fi
