#!/usr/bin/env bash
# What `make demo` needs beyond `make setup`: Debian's PyTorch (python3-torch, ~2 min the first time) for
# Debian's /usr/bin/python3, which runs the demo's model server. Idempotent: when the package is already
# installed this returns at once. Needs root (apt-get), as the demo itself does (CRIU).
set -euo pipefail
if [ "$(dpkg-query -W -f='${Status}' python3-torch 2>/dev/null || true)" = "install ok installed" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-demo: python3-torch is not installed and installing it needs root (apt-get)" >&2
  exit 1
fi
echo "setup-demo: installing python3-torch (Debian's PyTorch, CPU; about 2 minutes the first time)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3-torch >/dev/null
/usr/bin/python3 -c 'import torch; print("setup-demo: torch", torch.__version__)'
