#!/usr/bin/env bash
# Fetches the real test media of the pose tests (marker `media`) from Debian's
# opencv-doc package: a pedestrian video and two photos of people, extracted into
# tests/media/ (gitignored) and checked against their sha256. Idempotent.
# Usage: bash scripts/fetch_test_media.sh [DEST]
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${1:-tests/media}"
SRC=./usr/share/doc/opencv-doc/examples/data
declare -A SHA256=(
  [vtest.avi]=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
  [basketball1.png]=ba06f6701f7260998b430c39b6557f775497e6ce7b1a74f0b7ea6af371bf54a6
  [messi5.jpg]=1d570e49654e84c7a943918537bd9e5e1ef82920152e147c834006e235be97c9
)

all_present() {
  for f in "${!SHA256[@]}"; do
    [ -f "$DEST/$f" ] || return 1
    echo "${SHA256[$f]}  $DEST/$f" | sha256sum --quiet -c - >/dev/null 2>&1 || return 1
  done
}

if all_present; then
  echo "test media already present in $DEST"
  exit 0
fi

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
(
  cd "$TMP"
  # apt-get download needs package lists; fetch them once if it fails.
  apt-get download opencv-doc >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get download opencv-doc >/dev/null; }
)
DEB="$(ls "$TMP"/opencv-doc_*.deb)"
mkdir -p "$DEST"
dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$TMP" \
  "$SRC/vtest.avi" "$SRC/basketball1.png" "$SRC/messi5.jpg"
for f in "${!SHA256[@]}"; do
  echo "${SHA256[$f]}  $TMP/$SRC/$f" | sha256sum --quiet -c - \
    || { echo "error: $f from $(basename "$DEB") does not match its sha256" >&2; exit 1; }
  cp "$TMP/$SRC/$f" "$DEST/$f"
done
echo "test media written to $DEST: ${!SHA256[*]}"
