#!/usr/bin/env bash
# Installs CRIU 4.2 from Debian's `sid` suite into a project-local folder, with its own libraries.
# Debian 12's criu 3.17 cannot run on current kernels (vDSO bounds), and 4.1 cannot dump sockets there;
# 4.2 needs a newer libc than the host's, so it runs with the libraries it was built against
# (patchelf points the binary at them). Nothing outside the destination folder changes.
set -euo pipefail
DEST=${1:?usage: setup-criu.sh DEST}
DEST=$(realpath -m "$DEST")
command -v patchelf >/dev/null || { apt-get update -qq && apt-get install -y -qq patchelf >/dev/null; }
# Its libraries are found relative to the binary ($ORIGIN), never by an absolute path: inside a container's
# mount namespace (where the agent runs it for a restore) an absolute path would name the container's files.
RPATH='$ORIGIN/../root/usr/lib/x86_64-linux-gnu'
if [ -x "$DEST/bin/criu" ] && "$DEST/bin/criu" --version >/dev/null 2>&1; then
  [ "$(patchelf --print-rpath "$DEST/bin/criu")" = "$RPATH" ] || patchelf --force-rpath --set-rpath "$RPATH" "$DEST/bin/criu"
  exit 0
fi
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
mkdir -p "$T/etc" "$T/lists/partial" "$T/debs" "$T/cache/archives/partial"
echo "deb $MIRROR sid main" >"$T/etc/sources.list"
APT=(-o "Dir::Etc::SourceList=$T/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o "Dir::State::Lists=$T/lists" -o "Dir::Cache=$T/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get "${APT[@]}" -qq update
PKGS=$(apt-cache "${APT[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
  --no-breaks --no-replaces --no-enhances criu | grep -v '^ ' | grep -v '^<' | sort -u)
# shellcheck disable=SC2086
(cd "$T/debs" && apt-get "${APT[@]}" -qq download $PKGS)
rm -rf "$DEST.partial" && mkdir -p "$DEST.partial"
for f in "$T"/debs/*.deb; do dpkg -x "$f" "$DEST.partial/root"; done
L="$DEST/root/usr/lib/x86_64-linux-gnu"
mkdir -p "$DEST.partial/bin"
cp "$DEST.partial/root/usr/sbin/criu" "$DEST.partial/bin/criu"
# --force-rpath: the indirect libraries (libnl, libprotobuf-c…) must be found there too.
patchelf --set-interpreter "$L/ld-linux-x86-64.so.2" --force-rpath --set-rpath "$RPATH" "$DEST.partial/bin/criu"
rm -rf "$DEST" && mv "$DEST.partial" "$DEST"
"$DEST/bin/criu" --version
