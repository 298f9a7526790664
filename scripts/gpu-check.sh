#!/usr/bin/env bash
# GPU check (issues 5 and 19): on a machine with an NVIDIA GPU, start a small CUDA process under
# `snapback agent`, checkpoint it, restore it, and check that its device memory survived:
#   - a buffer filled with a known pattern (i % 251) must still sum to the expected value, and
#   - a counter kept in device memory must go on from where it was, not start again at 1.
# It does so once per CUDA backend this machine has — `driver` (snapback-cuda-helper on libcuda's
# checkpoint API; the helper is built from native/ when it is not installed) and `tool` (NVIDIA's
# cuda-checkpoint) — each under its own agent (--cuda-backend), and prints the CUDA phases' durations of both.
# The workload writes "counter checksum" to out.<starttime> in its work dir every 0.2 s; a restored process
# has a new start time (CRIU forks it anew), so its file is told apart from the original's.
#
# Without a GPU, either backend, or a way to build a CUDA program (python3+torch, or nvcc), it prints one
# SKIPPED line saying what is missing and exits 0. Otherwise it ends with PASS (exit 0, naming a backend it
# could not check, and why) or FAIL (exit 1). Never meant for CI.
#
# Env: SNAPBACK (command, default `npx --no-install snapback`), GPU_CHECK_PORT (default 50551),
#      GPU_CHECK_MB (buffer size, default 64), CUDA_CHECKPOINT (default cuda-checkpoint),
#      CUDA_HELPER (default snapback-cuda-helper), KEEP=1 keeps the dir.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PWD/.tools/criu/bin:$PWD/node_modules/.bin:$PATH"

SNAPBACK=${SNAPBACK:-npx --no-install snapback}
PORT=${GPU_CHECK_PORT:-50551}
ADDR=127.0.0.1:$PORT
MB=${GPU_CHECK_MB:-64}
CC=${CUDA_CHECKPOINT:-cuda-checkpoint}
HELPER=${CUDA_HELPER:-snapback-cuda-helper}

skip() { echo "SKIPPED gpu-check: $*"; exit 0; }
fail() { echo "FAIL gpu-check: $*"; exit 1; }
say() { echo "gpu-check: $*"; }

# --- what this machine has ---------------------------------------------------------------------------
command -v nvidia-smi >/dev/null || skip "nvidia-smi not found: no NVIDIA driver here"
GPUS=$(nvidia-smi --query-gpu=uuid,index --format=csv,noheader 2>&1) || skip "nvidia-smi sees no GPU: $GPUS"
DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)
command -v criu >/dev/null || skip "criu not found (make setup installs it into .tools/criu)"
say "driver $DRIVER; GPUs: $(echo "$GPUS" | tr '\n' ' ')"

WORK=$(mktemp -d /tmp/snapback-gpu-check.XXXXXX)
AGENT_PID=
cleanup() {
  [ -n "$AGENT_PID" ] && kill -- "-$AGENT_PID" 2>/dev/null
  # The workloads carry $WORK in their command line, which no other process has.
  pkill -KILL -f -- "$WORK/" 2>/dev/null
  [ "${KEEP:-0}" = 1 ] && say "kept $WORK" || rm -rf "$WORK"
}
trap cleanup EXIT

# --- the backends ----------------------------------------------------------------------------------------
BACKENDS=()
NOT_CHECKED=()
if ! command -v "$HELPER" >/dev/null; then
  if command -v cc >/dev/null && cc -O2 -Wall -Wextra -pthread -o "$WORK/snapback-cuda-helper" native/cuda-helper.c -ldl; then
    HELPER="$WORK/snapback-cuda-helper"
  fi
fi
if command -v "$HELPER" >/dev/null; then
  # The helper greets with "snapback-cuda-helper 1 ready VERSION LIB" or says why it cannot serve.
  GREETING=$("$HELPER" </dev/null 2>&1 | head -1)
  case "$GREETING" in
    "snapback-cuda-helper 1 ready "*) BACKENDS+=(driver); say "driver helper: ${GREETING#snapback-cuda-helper 1 }" ;;
    *) NOT_CHECKED+=("driver: $GREETING") ;;
  esac
else
  NOT_CHECKED+=("driver: $HELPER not found and could not be built (make setup builds it)")
fi
if ! command -v "$CC" >/dev/null; then
  NOT_CHECKED+=("tool: $CC not found on PATH (https://github.com/NVIDIA/cuda-checkpoint; driver $DRIVER)")
elif ! "$CC" --help 2>&1 | grep -q -- '--action'; then
  NOT_CHECKED+=("tool: $CC has no --action: driver $DRIVER is older than 555")
else
  BACKENDS+=(tool)
fi
[ ${#BACKENDS[@]} -gt 0 ] || skip "no CUDA backend here: $(printf '%s; ' "${NOT_CHECKED[@]}")"

# --- the CUDA workload -----------------------------------------------------------------------------------
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  cat >"$WORK/workload.py" <<'EOF'
import os, sys, time, torch
out, n = sys.argv[1], int(sys.argv[2]) * 1024 * 1024 // 4
x = (torch.arange(n, device="cuda", dtype=torch.int64) % 251).to(torch.int32)
counter = torch.zeros(1, device="cuda", dtype=torch.int64)
while True:
    counter += 1
    checksum = int(x.sum(dtype=torch.int64).item())
    stat = open("/proc/self/stat").read()
    start = stat[stat.rindex(")") + 2:].split()[19]
    path = os.path.join(out, "out." + start)
    with open(path + ".tmp", "w") as f:
        f.write("%d %d\n" % (int(counter.item()), checksum))
    os.replace(path + ".tmp", path)
    time.sleep(0.2)
EOF
  WORKLOAD=(python3 "$WORK/workload.py" "$WORK" "$MB")
elif command -v nvcc >/dev/null; then
  cat >"$WORK/workload.cu" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
__global__ void fill(int *x, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    x[i] = (int)(i % 251);
}
__global__ void sum(const int *x, size_t n, unsigned long long *s) {
  unsigned long long local = 0;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    local += x[i];
  atomicAdd(s, local);
}
__global__ void inc(unsigned long long *c) { *c += 1; }
static void check(cudaError_t e, const char *what) {
  if (e != cudaSuccess) { fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e)); exit(1); }
}
static const char *starttime(void) {
  static char buf[4096], field[64];
  FILE *f = fopen("/proc/self/stat", "r");
  size_t len = fread(buf, 1, sizeof buf - 1, f); fclose(f); buf[len] = 0;
  char *p = strrchr(buf, ')') + 2;
  for (int i = 0; i < 19; i++) p = strchr(p, ' ') + 1;
  sscanf(p, "%63s", field);
  return field;
}
int main(int argc, char **argv) {
  size_t n = (size_t)atoi(argv[2]) * 1024 * 1024 / 4;
  int *x; unsigned long long *c, *s, hc, hs;
  check(cudaMalloc(&x, n * sizeof(int)), "cudaMalloc");
  check(cudaMalloc(&c, sizeof *c), "cudaMalloc");
  check(cudaMalloc(&s, sizeof *s), "cudaMalloc");
  check(cudaMemset(c, 0, sizeof *c), "cudaMemset");
  fill<<<256, 256>>>(x, n);
  for (;;) {
    inc<<<1, 1>>>(c);
    check(cudaMemset(s, 0, sizeof *s), "cudaMemset");
    sum<<<256, 256>>>(x, n, s);
    check(cudaMemcpy(&hc, c, sizeof hc, cudaMemcpyDeviceToHost), "copy counter");
    check(cudaMemcpy(&hs, s, sizeof hs, cudaMemcpyDeviceToHost), "copy checksum");
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/out.%s", argv[1], starttime());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    fprintf(f, "%llu %llu\n", hc, hs); fclose(f); rename(tmp, path);
    usleep(200000);
  }
}
EOF
  nvcc -O2 -o "$WORK/workload" "$WORK/workload.cu" || fail "nvcc could not build the workload"
  WORKLOAD=("$WORK/workload" "$WORK" "$MB")
else
  skip "neither python3 with a CUDA-enabled torch nor nvcc is here to build a CUDA workload"
fi

# sum over i < n of (i % 251), computed here independently of the GPU
N=$((MB * 1024 * 1024 / 4))
EXPECTED=$(((N / 251) * (250 * 251 / 2) + (N % 251) * (N % 251 - 1) / 2))

# --- helpers ---------------------------------------------------------------------------------------------
# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND every 0.2 s
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@"; do
    [ $SECONDS -ge $deadline ] && fail "timed out waiting for $what"
    sleep 0.2
  done
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }
counter_of() { awk '{print $1}' "$1" 2>/dev/null; }
checksum_of() { awk '{print $2}' "$1" 2>/dev/null; }
json_field() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];console.log(typeof v==="object"?JSON.stringify(v):v??"")})' "$1"; }

# --- the workload runs on this GPU at all (a direct run, before any agent is involved) ------------------
mkdir "$WORK/preflight"
"${WORKLOAD[@]:0:${#WORKLOAD[@]}-2}" "$WORK/preflight" "$MB" >"$WORK/preflight.log" 2>&1 &
PRE_PID=$!
preflight_done() { [ -n "$(find "$WORK/preflight" -name 'out.*' ! -name '*.tmp')" ] || ! kill -0 "$PRE_PID" 2>/dev/null; }
wait_for 120 "the workload's direct run" preflight_done
kill -0 "$PRE_PID" 2>/dev/null || fail "the CUDA workload cannot run here: $(tail -3 "$WORK/preflight.log")"
kill -KILL "$PRE_PID" 2>/dev/null
wait "$PRE_PID" 2>/dev/null

# --- run, checkpoint, restore, once per backend -------------------------------------------------------
[ -f dist/bin/snapback.js ] || npm run build >/dev/null || fail "npm run build failed"

# The CUDA state of a PID, through whichever backend is here.
cuda_state() {
  if [ "$1" = driver ]; then
    case "$(printf '1 state %s\n' "$2" | "$HELPER" | sed -n 2p)" in
      "1 ok 0") echo running ;; "1 ok 1") echo locked ;; "1 ok 2") echo checkpointed ;; "1 ok 3") echo failed ;;
      *) echo unknown ;;
    esac
  else
    "$CC" --get-state --pid "$2" 2>&1
  fi
}

# check BACKEND: the whole round under an agent of its own; leaves "BACKEND: durations" in $WORK/summary.
check() {
  local backend=$1 dir="$WORK/$1"
  mkdir -p "$dir"
  setsid $SNAPBACK agent --listen "$ADDR" --storage "$dir/storage" --state-dir "$dir/state" --runtime process \
    --cuda-backend "$backend" --cuda-helper "$HELPER" --cuda-checkpoint "$CC" >"$dir/agent.log" 2>&1 &
  AGENT_PID=$!
  wait_for 120 "the $backend agent to listen on $ADDR" port_open
  grep '"msg":"CUDA phase on"' "$dir/agent.log" | grep -q "\"backend\":\"$backend\"" ||
    fail "the agent did not take the $backend backend: $(grep '"msg":"CUDA phase' "$dir/agent.log")"

  timeout 60 $SNAPBACK run --agent "$ADDR" --name "gpu-check-$backend" -- \
    "${WORKLOAD[@]:0:${#WORKLOAD[@]}-2}" "$dir" "$MB" >"$dir/run.out" 2>&1 ||
    fail "$backend: snapback run failed: $(tail -5 "$dir/run.out")"
  out_files() { find "$dir" -maxdepth 1 -name 'out.*' ! -name '*.tmp' | sort; }
  first_file() { ORIG=$(out_files | head -1); [ -n "$ORIG" ] && [ "$(counter_of "$ORIG")" -ge 5 ] 2>/dev/null; }
  wait_for 120 "the workload to start counting on the GPU" first_file
  [ "$(checksum_of "$ORIG")" = "$EXPECTED" ] || fail "$backend: the workload's own checksum is wrong before any checkpoint"
  BEFORE=$(counter_of "$ORIG")
  say "$backend: workload counting (counter $BEFORE, checksum $EXPECTED over $MB MiB)"

  CKPT_JSON=$(timeout 300 $SNAPBACK checkpoint --agent "$ADDR" --target "gpu-check-$backend" --id "gpu-check-$backend-1" --json) ||
    fail "$backend: snapback checkpoint failed: $CKPT_JSON"
  CKPT_DURATIONS=$(echo "$CKPT_JSON" | json_field durations)
  say "$backend: checkpoint: durations $CKPT_DURATIONS"

  REST_JSON=$(timeout 300 $SNAPBACK restore --agent "$ADDR" --id "gpu-check-$backend-1" --name "gpu-check-$backend-restored" --json) ||
    fail "$backend: snapback restore failed: $REST_JSON"
  RESTORED_PID=$(echo "$REST_JSON" | json_field restoredPid)
  REST_DURATIONS=$(echo "$REST_JSON" | json_field durations)
  say "$backend: restore: pid $RESTORED_PID, durations $REST_DURATIONS"

  new_file() { NEW=$(out_files | grep -vxF "$ORIG" | head -1); [ -n "$NEW" ] && [ -n "$(counter_of "$NEW")" ]; }
  wait_for 60 "the restored process to write" new_file
  FIRST=$(counter_of "$NEW")
  [ "$(checksum_of "$NEW")" = "$EXPECTED" ] ||
    fail "$backend: device memory pattern lost: checksum $(checksum_of "$NEW"), expected $EXPECTED"
  [ "$FIRST" -gt "$BEFORE" ] ||
    fail "$backend: device counter restarted: restored process says $FIRST, the original was past $BEFORE"
  advanced() { [ "$(counter_of "$NEW")" -gt "$FIRST" ]; }
  wait_for 10 "the restored process to keep computing on the GPU" advanced
  # The restored pid is the workload's init (snapback-init); the CUDA process is the command, its child.
  CUDA_PID=$(awk '{print $1}' "/proc/$RESTORED_PID/task/$RESTORED_PID/children" 2>/dev/null)
  if [ -n "$CUDA_PID" ] && [ -d "/proc/$CUDA_PID" ]; then
    STATE=$(cuda_state "$backend" "$CUDA_PID")
    [ "$STATE" = running ] || fail "$backend: restored pid $CUDA_PID is CUDA state '$STATE', not running"
  fi
  say "$backend: device memory survived (checksum $EXPECTED, counter $BEFORE -> $FIRST -> $(counter_of "$NEW"))"
  echo "$backend: checkpoint $CKPT_DURATIONS; restore $REST_DURATIONS" >>"$WORK/summary"

  kill -- "-$AGENT_PID" 2>/dev/null
  wait "$AGENT_PID" 2>/dev/null
  AGENT_PID=
  # The original and the restored workload: their command lines end in "$dir $MB", which nothing else has.
  pkill -KILL -f -- "$dir $MB" 2>/dev/null
  port_closed() { ! port_open; }
  wait_for 30 "the $backend agent to let go of $ADDR" port_closed
}

for backend in "${BACKENDS[@]}"; do check "$backend"; done
say "CUDA phases (ms) by backend:"
sed 's/^/  /' "$WORK/summary"
echo "PASS gpu-check: device memory survived checkpoint/restore through ${BACKENDS[*]}$([ ${#NOT_CHECKED[@]} -gt 0 ] && printf '; not checked: %s' "${NOT_CHECKED[*]}")"
