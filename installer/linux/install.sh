#!/usr/bin/env bash
# Install OMFA Desktop for the current user from this unpacked folder: a menu entry and icon, and `omfa`
# on PATH. Nothing outside your home folder is touched; no root needed.
#
#   ./install.sh              install (copies this folder to ~/.local/opt/omfa-desktop)
#   ./install.sh --in-place   use this folder where it is (do not move it afterwards)
#   ./install.sh --uninstall  remove the menu entry, icon, `omfa` link and ~/.local/opt/omfa-desktop
set -euo pipefail
SRC="$(cd "$(dirname "$0")" && pwd)"
NAME=omfa-desktop
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
DEST="$HOME/.local/opt/$NAME"
APPS="$DATA/applications"
ICONS="$DATA/icons/hicolor/256x256/apps"
BIN="$HOME/.local/bin"

if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$APPS/$NAME.desktop" "$ICONS/$NAME.png"
  [ -L "$BIN/omfa" ] && rm -f "$BIN/omfa"
  [ -d "$DEST" ] && rm -rf "$DEST"
  echo "OMFA Desktop removed (your gallery, wardrobe and settings are kept in $DATA/OMFA Desktop)."
  exit 0
fi
if [ "${1:-}" = "--in-place" ]; then
  DEST="$SRC"
elif [ "$SRC" != "$DEST" ]; then
  mkdir -p "$(dirname "$DEST")"
  rm -rf "$DEST.new"
  cp -a "$SRC" "$DEST.new"
  rm -rf "$DEST"
  mv "$DEST.new" "$DEST"
fi
mkdir -p "$APPS" "$ICONS" "$BIN"
cp "$DEST/$NAME.png" "$ICONS/$NAME.png"
sed -e "s|^Exec=.*|Exec=\"$DEST/$NAME\" %F|" -e "s|^Icon=.*|Icon=$DEST/$NAME.png|" "$DEST/$NAME.desktop" >"$APPS/$NAME.desktop"
ln -sfn "$DEST/omfa" "$BIN/omfa"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
echo "OMFA Desktop installed in $DEST: find it in your applications menu, or run $DEST/$NAME."
echo "Check it with: $DEST/omfa --self-test"
