#!/bin/sh
# snapback-install-tools DEST: puts this image's criu folder and io_uring-blocking launcher under DEST
# (the node's /opt/snapback, a hostPath), replacing what an earlier version left there. The agent's init
# container runs it; workloads mount DEST at the same path, so criu can run inside them.
set -eu
DEST=${1:?usage: snapback-install-tools DEST}
SRC=/usr/local/share/snapback
mkdir -p "$DEST"
rm -rf "$DEST/.new"
mkdir -p "$DEST/.new"
cp -a "$SRC/criu" "$SRC/bin" "$DEST/.new/"
for part in criu bin; do
  rm -rf "$DEST/$part.old"
  [ -e "$DEST/$part" ] && mv "$DEST/$part" "$DEST/$part.old"
  mv "$DEST/.new/$part" "$DEST/$part"
  rm -rf "$DEST/$part.old"
done
rmdir "$DEST/.new"
"$DEST/criu/bin/criu" --version
