#!/usr/bin/env bash
# Set up OMFA Desktop in a local virtual environment (.venv).
# Idempotent: re-running skips what is already there. Never pulls a CUDA torch.
# Fast when nothing changed: a finished setup leaves a stamp (a hash of pyproject.toml, constraints.txt and
# this script) in the venv; while it matches, nothing is checked or installed (no pip at all), so
# scripts/run.sh starts the app at once. OMFA_FORCE_SETUP=1 (or deleting .venv/.omfa-setup-stamp) redoes it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
VENV="${OMFA_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
STAMP_FILE="$VENV/.omfa-setup-stamp"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# The checkout's path is part of the stamp: the venv's editable install points at one checkout.
stamp() { { echo "$ROOT"; cat "$ROOT/pyproject.toml" "$ROOT/constraints.txt" "$ROOT/scripts/setup.sh"; } \
  | sha256sum | cut -d' ' -f1; }
if [ "${OMFA_FORCE_SETUP:-0}" != "1" ] && [ -x "$VENV/bin/python" ] && [ -f "$STAMP_FILE" ] \
   && [ "$(cat "$STAMP_FILE")" = "$(stamp)" ]; then
  exit 0  # set up with these very files: nothing to do
fi

# 1. System packages: offscreen GL (EGL/OSMesa) for guide renders, Xvfb + xcb libs for the Qt window.
APT_PKGS="xvfb xauth libegl1 libegl-mesa0 libgl1-mesa-dri libgbm1 libosmesa6 libgl1 libglx-mesa0 \
libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libxcb-image0 libxcb-render-util0 \
libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 libdbus-1-3 libfontconfig1 fonts-dejavu-core"
if command -v apt-get >/dev/null 2>&1 && [ "${OMFA_SKIP_APT:-0}" != "1" ]; then
  missing=""
  for p in $APT_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
  if [ -n "$missing" ]; then
    SUDO=""; [ "$(id -u)" != "0" ] && SUDO="sudo"
    say "installing system packages:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
  fi
fi

# 2. Virtual environment.
if [ ! -x "$VENV/bin/python" ]; then
  say "creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade pip >/dev/null

# 3. torch first, pinned to the CPU wheel; everything after is constrained to it so nothing can
#    drag in a multi-GB CUDA build. On a GPU box, install your CUDA torch 2.13.0 first: the pin keeps it.
if ! "$VPY" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  say "installing torch 2.13.0"
  "$VPY" -m pip install -q "torch==2.13.0"
fi
say "installing OMFA Desktop and its dependencies"
"$VPY" -m pip install -q -c "$ROOT/constraints.txt" -e "$ROOT[dev]"
"$VPY" -m pip check >/dev/null || { say "pip check reports a conflict:"; "$VPY" -m pip check; exit 1; }
stamp > "$STAMP_FILE"  # only after a complete, consistent install
say "ready: $VENV"
