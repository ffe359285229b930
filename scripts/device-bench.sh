#!/usr/bin/env bash
# On the GPU machine: builds leaves against the LibTorch that ships with PyTorch
# (CUDA), then times our adversarial LEAVES step and the Python peer on the same
# GPU in the same run, at the Sleep-EDF shape (C=1, L=3000) and the PTB-XL shape
# (C=12, L=1000), batch 128, and prints one table.
# Needs .deps/ from scripts/fetch-device-deps.sh (carried to the machine).
# Usage: bash scripts/device-bench.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-20}
PREFIX="${TMPDIR:-/tmp}/deps-for-leaves"  # never into /
mkdir -p "$PREFIX"
for deb in .deps/*.deb; do dpkg -x "$deb" "$PREFIX"; done
PEER=.deps/peer_pytorch.py
[ -f "$PEER" ] || PEER=../shared/bench/peer_pytorch.py
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
# nccl.h of the wheel's NCCL (for the c10d NCCL backend); empty if absent.
NCCL_INC=$(python3 -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], "include"))' 2>/dev/null || true)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
start=$(date +%s)
cmake -S . -B build-device -DCMAKE_BUILD_TYPE=Release -DLEAVES_BUILD_TESTS=OFF -DLEAVES_BUILD_BENCH=OFF \
  -DLEAVES_REQUIRE_CURL=OFF ${NCCL_INC:+-DNCCL_INCLUDE_DIR="$NCCL_INC"} \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PREFIX/usr" >"$PREFIX/configure.log" 2>&1 || { cat "$PREFIX/configure.log"; exit 1; }
cmake --build build-device -j "$(nproc)" >"$PREFIX/build.log" 2>&1 || { tail -50 "$PREFIX/build.log"; exit 1; }
echo "device build: $(( $(date +%s) - start )) s"
grep -E "distributed backend|no data-parallel" "$PREFIX/configure.log" || true

# The NCCL path, world of one (LEAVES_DIST=1 builds the process group anyway).
rm -rf "$PREFIX/nccl-run"
LEAVES_DIST=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=0 ./build-device/leaves pretrain --device cuda \
  --data synthetic --epochs 2 --batch-size 64 --out "$PREFIX/nccl-run" | grep -E "worker|epoch|done" || echo "NCCL run failed"

rows=()
for shape in "1 3000" "12 1000"; do
  set -- $shape
  C=$1; L=$2
  ours=$(./build-device/leaves bench pretrain --device cuda --batch-size 128 --channels "$C" --length "$L" \
           --projection-hidden 0 --mixture-components 5 --steps "$STEPS" --warmup 5 | tail -1)
  echo "$ours"
  rows+=("leaves (C++) | $C | $L | $(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$ours")")
  for flags in "" "--bf16" "--bf16 --compile"; do
    peer=$(python3 "$PEER" --B 128 --C "$C" --L "$L" --steps "$STEPS" $flags 2>&1 | tail -1) || peer="failed"
    echo "$peer"
    rows+=("peer ${flags:-fp32} | $C | $L | $(sed -E 's/.*samples_per_s=([0-9.]+).*/\1/' <<<"$peer")")
  done
done
echo
echo "| implementation | C | L | samples/s |"
echo "|---|---|---|---|"
printf '| %s |\n' "${rows[@]}"
