#!/usr/bin/env bash
# One command for a fresh clone: set everything up (system packages, .venv) and open OMFA Desktop.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python main.py "$@"
