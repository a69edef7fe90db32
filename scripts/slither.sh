#!/usr/bin/env bash
# Run Slither over contracts/ in its own venv: slither-analyzer pins web3<8, which the platform cannot use.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv-slither
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "slither-analyzer==0.11.6"
fi
exec "$VENV/bin/python" scripts/slither_check.py "$@"
