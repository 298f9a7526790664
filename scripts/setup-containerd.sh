#!/usr/bin/env bash
# Installs containerd 1.7 (Debian `trixie`), runc 1.1.5 (bookworm; trixie's needs a newer libc) and a static
# busybox (bookworm, for test images) into a project-local folder, unpacked with dpkg -x: nothing outside
# the destination changes. bookworm's containerd 1.6 cannot restore its own
# checkpoints, hence 1.7. Layout: DEST/bin/{containerd,containerd-shim-runc-v2,ctr,runc,busybox}.
set -euo pipefail
DEST=${1:?usage: setup-containerd.sh DEST}
DEST=$(realpath -m "$DEST")
if [ -x "$DEST/bin/containerd" ] && [ -x "$DEST/bin/runc" ] && [ -x "$DEST/bin/busybox" ] &&
  "$DEST/bin/containerd" --version >/dev/null 2>&1; then
  exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
# A private apt view per suite (trixie for containerd, bookworm for runc and busybox-static).
fetch() { # suite package…
  local suite=$1
  shift
  mkdir -p "$T/$suite/etc" "$T/$suite/lists/partial" "$T/$suite/cache/archives/partial" "$T/debs"
  echo "deb $MIRROR $suite main" >"$T/$suite/etc/sources.list"
  local apt=(-o "Dir::Etc::SourceList=$T/$suite/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$T/$suite/lists" -o "Dir::Cache=$T/$suite/cache" -o Debug::NoLocking=1
    -o APT::Sandbox::User=root)
  apt-get "${apt[@]}" -qq update
  (cd "$T/debs" && apt-get "${apt[@]}" -qq download "$@")
}
fetch trixie containerd
fetch bookworm runc busybox-static
rm -rf "$DEST.partial" && mkdir -p "$DEST.partial/bin"
for f in "$T"/debs/*.deb; do dpkg -x "$f" "$DEST.partial/root"; done
for b in containerd containerd-shim-runc-v2 ctr; do cp "$DEST.partial/root/usr/bin/$b" "$DEST.partial/bin/"; done
cp "$DEST.partial/root/usr/sbin/runc" "$DEST.partial/bin/runc"
cp "$DEST.partial/root/bin/busybox" "$DEST.partial/bin/busybox"
rm -rf "$DEST.partial/root"
rm -rf "$DEST" && mv "$DEST.partial" "$DEST"
"$DEST/bin/containerd" --version
"$DEST/bin/runc" --version | head -1
