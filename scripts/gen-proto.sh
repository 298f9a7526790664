#!/usr/bin/env bash
# TypeScript types for the agent's gRPC contract, generated from proto/ (never hand-copied).
# proto-loader-gen-types writes extensionless relative imports; NodeNext resolution wants `.js`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=src/agent/generated
STAMP=$OUT/.stamp
if [ -f "$STAMP" ] && [ -z "$(find proto/snapback -newer "$STAMP" -name '*.proto' | head -1)" ]; then exit 0; fi
rm -rf "$OUT"
proto-loader-gen-types --grpcLib=@grpc/grpc-js --longs=Number --enums=String --defaults --oneofs \
  --keepCase=false -I proto -O "$OUT" $(cd proto && find ./snapback -name '*.proto' | sort)
find "$OUT" -name '*.ts' -exec sed -i -E "s#(from '\.{1,2}/[^']*)'#\1.js'#" {} +
touch "$STAMP"
