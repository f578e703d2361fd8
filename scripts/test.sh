#!/usr/bin/env bash
# One command for a fresh clone: set everything up and run the test suite (Qt/GL tests under Xvfb,
# started by pytest-xvfb). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
