#!/usr/bin/env bash
# Build the OMFA Desktop Linux bundle (PyInstaller onedir) and its tar.gz, from a clean checkout:
#
#   installer/build_linux.sh          # -> dist/omfa-desktop/ and dist/omfa-desktop-<version>-linux-x86_64.tar.gz
#
# Uses its own build environment (build/venv, or $OMFA_BUILD_VENV), never the development .venv: torch 2.13.0
# first (the CPU wheel; a CUDA torch is refused unless OMFA_ALLOW_CUDA_TORCH=1), then the project and its
# [build] extra, non-editable, with constraints.txt. Idempotent (re-running reuses the environment and
# rebuilds the bundle); stops at the first error. After the build it checks that every shared library in
# the bundle resolves, that no SMPL-X file is in it, and runs the bundle's `omfa --self-test` with an empty
# environment (OMFA_SKIP_SELFTEST=1 skips it). Run it with `nice -n 10` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$(pwd)"
T0=$(date +%s)
say() { printf '\033[1m[build]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[build] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }
trap 'die "line $LINENO: $BASH_COMMAND (exit $?)"' ERR

PY="${PYTHON:-python3}"
VENV="${OMFA_BUILD_VENV:-$ROOT/build/venv}"
DIST="$ROOT/dist"
WORK="$ROOT/build/pyinstaller"
NAME=omfa-desktop
VERSION="$(sed -n 's/^version *= *"\(.*\)"/\1/p' pyproject.toml | head -1)"
[ -n "$VERSION" ] || die "no version in pyproject.toml"
ARCH="$(uname -m)"
TARBALL="$DIST/$NAME-$VERSION-linux-$ARCH.tar.gz"
case "$VENV" in "$ROOT/.venv"|"$ROOT/.venv/") die "the build environment must not be the development .venv";; esac

# 1. build environment ------------------------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the build environment $VENV"
  "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
if ! "$VPY" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('2.13.0') else 1)" 2>/dev/null; then
  say "installing torch 2.13.0 (first, so nothing after it can pull another build)"
  "$VPY" -m pip install -q "torch==2.13.0"
fi
CUDA="$("$VPY" -c 'import torch; print(torch.version.cuda or "")' 2>/dev/null)"
if [ -n "$CUDA" ] && [ "${OMFA_ALLOW_CUDA_TORCH:-0}" != "1" ]; then
  die "the build environment has a CUDA torch (CUDA $CUDA, several GB): set OMFA_ALLOW_CUDA_TORCH=1 if you mean it"
fi
say "installing OMFA Desktop $VERSION and the build tools (non-editable, constraints.txt)"
"$VPY" -m pip install -q -c constraints.txt "$ROOT[build]"
"$VPY" -m pip check >/dev/null || { "$VPY" -m pip check; die "pip check reports a conflict"; }

# 2. icon (committed; drawn again only if missing) -----------------------------------------------------------
[ -f resources/icons/$NAME.png ] && [ -f resources/icons/$NAME.ico ] || "$VPY" installer/make_icon.py

# 3. PyInstaller -------------------------------------------------------------------------------------------
say "running PyInstaller (a few minutes; log: build/pyinstaller.log)"
mkdir -p "$ROOT/build"
T1=$(date +%s)
if ! "$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN --distpath "$DIST" --workpath "$WORK" \
     installer/omfa.spec >"$ROOT/build/pyinstaller.log" 2>&1; then
  tail -40 "$ROOT/build/pyinstaller.log" >&2
  die "PyInstaller failed (full log: build/pyinstaller.log)"
fi
T2=$(date +%s)
BUNDLE="$DIST/$NAME"
[ -x "$BUNDLE/$NAME" ] && [ -x "$BUNDLE/omfa" ] || die "the bundle lacks its executables"

# 4. checks ------------------------------------------------------------------------------------------------
say "checking that every shared library in the bundle resolves"
# Qt's optional platform plugins (Wayland, EGLFS, VNC, ...) need the system libraries of that platform
# (libwayland-* on a Wayland desktop): Qt loads them only there, so a missing one here is a note, not an error.
OPTIONAL='PySide6/Qt/(plugins/(platforms/libq(wayland|eglfs|vkkhrdisplay|linuxfb|vnc|minimalegl)|wayland-|egldeviceintegrations/)|lib/libQt6(Wayland|WlShell|EglFs))'
unresolved="$(find "$BUNDLE" -type f \( -name '*.so' -o -name '*.so.*' -o -name "$NAME" -o -name omfa \) -print0 |
  xargs -0 -n 50 env LD_LIBRARY_PATH="$BUNDLE/_internal" ldd 2>/dev/null |
  awk '/^\// {f=$1} /not found/ {print f, $1}' | sort -u)"
optional="$(printf '%s\n' "$unresolved" | grep -E "$OPTIONAL" | awk '{print $2}' | sort -u | tr '\n' ' ' || true)"
[ -z "${optional// /}" ] || say "note: optional Qt platform plugins need system libraries not installed here: $optional"
missing="$(printf '%s\n' "$unresolved" | grep -v -E "$OPTIONAL" | grep -v '^$' || true)"
if [ -n "$missing" ]; then
  printf '%s\n' "$missing" >&2
  die "shared libraries of the bundle do not resolve on this machine (above: file, missing library)"
fi
smpl="$(find "$BUNDLE" -type f \( -iname 'SMPLX_*' -o -iname 'SMPL_*' \) | head -5)"
[ -z "$smpl" ] || die "SMPL-X/SMPL model files must never be bundled: $smpl"
smplx_pkg="$(find "$BUNDLE" -path '*smplx*' \( -name '*.py' -o -name '*.pyc' -o -name 'METADATA' \) | head -5)"
[ -z "$smplx_pkg" ] || die "the smplx package must not be bundled (its licence forbids redistribution): $smplx_pkg"

# 5. desktop entry, icon, install notes --------------------------------------------------------------------
cp resources/icons/$NAME.png "$BUNDLE/$NAME.png"
cat >"$BUNDLE/$NAME.desktop" <<EOF
[Desktop Entry]
Type=Application
Version=1.0
Name=OMFA Desktop
GenericName=Virtual try-on
Comment=Virtual try-on and try-off in any pose with one model
Exec=$NAME %F
Icon=$NAME
Terminal=false
Categories=Graphics;2DGraphics;
MimeType=image/png;image/jpeg;
StartupWMClass=$NAME
EOF
cp installer/linux/install.sh "$BUNDLE/install.sh"
chmod +x "$BUNDLE/install.sh"
sed "s/@VERSION@/$VERSION/g" installer/linux/INSTALL.txt >"$BUNDLE/INSTALL.txt"

# 6. self-test of the bundle, with an empty environment and from another folder ------------------------------
SELFTEST_LINE="(skipped)"
if [ "${OMFA_SKIP_SELFTEST:-0}" != "1" ]; then
  say "self-test of the bundle (env -i, cwd /)"
  S0=$(date +%s)
  out="$(cd / && env -i PATH=/usr/bin:/bin HOME="${HOME:-/tmp}" "$BUNDLE/omfa" --self-test 2>/dev/null)" \
    || { printf '%s\n' "$out" >&2; die "the bundle's self-test failed"; }
  SELFTEST_LINE="$(printf '%s\n' "$out" | tail -1) (process $(( $(date +%s) - S0 )) s)"
fi

# 7. tar.gz ------------------------------------------------------------------------------------------------
say "writing $(basename "$TARBALL")"
rm -f "$TARBALL"
tar -C "$DIST" -cf - "$NAME" | gzip -6 >"$TARBALL.part"
mv "$TARBALL.part" "$TARBALL"
T3=$(date +%s)

say "done"
echo "  bundle:      $BUNDLE ($(du -sh "$BUNDLE" | cut -f1), $(find "$BUNDLE" -type f | wc -l) files)"
echo "  tar.gz:      $TARBALL ($(du -sh "$TARBALL" | cut -f1))"
echo "  build time:  $(( T3 - T0 )) s in all (PyInstaller $(( T2 - T1 )) s)"
echo "  self-test:   $SELFTEST_LINE"
