#!/usr/bin/env bash
# On the GPU machine, in one call: builds leaves against the LibTorch that ships
# with PyTorch (CUDA), then
#   1. times our adversarial LEAVES step (bf16 + CUDA graph, the default; and
#      the variants without the graph and in fp32) and the Python peer (fp32,
#      --bf16, --bf16 --compile) on the same GPU, at the Sleep-EDF shape
#      (C=1, L=3000) and the PTB-XL shape (C=12, L=1000), batch 128;
#   2. times one full epoch over a Sleep-EDF-sized resident set (42,308 x 1 x 3000);
#   3. checks bf16 against fp32: the loss of one batch, and `leaves pretrain`
#      on the built-in set for a few epochs in each precision;
#   4. runs the NCCL process group for a world of one;
# and prints one table. Needs .deps/ from scripts/fetch-device-deps.sh (carried).
# Logs go to $OUT when it is set (the device tool), else to the build folder.
# Usage: bash scripts/device-bench.sh [STEPS]
set -uo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-20}
PREFIX="${TMPDIR:-/tmp}/deps-for-leaves"  # never into /
LOG="${OUT:-build-device}"
mkdir -p "$PREFIX" "$LOG"
for deb in .deps/*.deb; do dpkg -x "$deb" "$PREFIX"; done
export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PEER=.deps/peer_pytorch.py
[ -f "$PEER" ] || PEER=../shared/bench/peer_pytorch.py
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
NCCL_INC=$(python3 -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], "include"))' 2>/dev/null || true)
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader || true
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
start=$(date +%s)
GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
if ! cmake -S . -B build-device "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DLEAVES_BUILD_TESTS=OFF -DLEAVES_BUILD_BENCH=OFF \
    -DLEAVES_REQUIRE_CURL=OFF -DOPENSSL_ROOT_DIR="$PREFIX/usr" ${NCCL_INC:+-DNCCL_INCLUDE_DIR="$NCCL_INC"} \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PREFIX/usr" >"$LOG/configure.log" 2>&1; then
  tail -40 "$LOG/configure.log"; exit 1
fi
grep -E "leaves:" "$LOG/configure.log" || true
if ! cmake --build build-device --target leaves -j "$(nproc)" >"$LOG/build.log" 2>&1; then
  grep -E "error|Error" "$LOG/build.log" | head -40; exit 1
fi
echo "device build: $(( $(date +%s) - start )) s"
L=./build-device/leaves
value() { sed -nE "s/.*$1=([0-9.e+-]+).*/\1/p" <<<"$2" | tail -1; }
rows=()
declare -A best
bench_shape() {
  local C=$1 Lx=$2 peers=$3
  local common=(--device cuda --batch-size 128 --channels "$C" --length "$Lx" --projection-hidden 0 --normalize
                --mixture-components 5 --steps "$STEPS" --rounds 3 --warmup 5)
  local variant flags out sps plist
  [ -n "${4:-}" ] || set -- "$1" "$2" "$3" all
  local variants=("bf16 + CUDA graph (default)|" "bf16, eager|--no-cuda-graphs" "fp32 + CUDA graph|--precision fp32")
  [ "$4" = all ] || variants=()
  for variant in "${variants[@]}"; do
    flags=${variant#*|}
    out=$($L bench pretrain "${common[@]}" $flags 2>&1 | tee -a "$LOG/ours.log" | tail -1)
    echo "$out"
    sps=$(value samples_per_s "$out")
    rows+=("leaves (C++), ${variant%|*} | $C | $Lx | ${sps:-failed} | $(value step_s "$out") | $(value peak_mem_mib "$out") |")
    echo "| ${rows[-1]}" >>"$LOG/table.md"
    [ "$flags" = "" ] && best[ours_$C]=${sps:-0}
  done
  local pflags
  IFS=, read -ra plist <<<"$peers"
  for pflags in "${plist[@]}"; do
    [ "$pflags" = fp32 ] && pflags=""
    out=$(timeout 200 python3 "$PEER" --B 128 --C "$C" --L "$Lx" --steps "$STEPS" --warmup 5 $pflags 2>&1 | tee -a "$LOG/peer.log" | tail -1)
    echo "$out"
    sps=$(value samples_per_s "$out")
    rows+=("peer PyTorch ${pflags:-fp32} | $C | $Lx | ${sps:-failed} | $(value step_s "$out") | |")
    echo "| ${rows[-1]}" >>"$LOG/table.md"
    if [ -n "$sps" ] && awk "BEGIN{exit !($sps > ${best[peer_$C]:-0})}"; then best[peer_$C]=$sps; fi
  done
}
bench_shape 1 3000 "fp32,--bf16,--bf16 --compile"
# A full epoch over a Sleep-EDF-sized resident set, as `leaves pretrain` runs it.
epoch=$($L bench pretrain --device cuda --batch-size 128 --channels 1 --length 3000 --projection-hidden 0 --normalize \
          --mixture-components 5 --steps 5 --rounds 1 --warmup 5 --epoch-size 42308 2>&1 | tee -a "$LOG/ours.log" | grep "bench epoch")
echo "$epoch"
# bf16 against fp32: one batch first (a few epochs of the built-in set below).
$L bench pretrain --device cuda --batch-size 128 --channels 1 --length 3000 --steps 1 --rounds 1 --warmup 1 \
  --check-precision 2>&1 | grep "precision check"
bench_shape 12 1000 "fp32,--bf16"
for p in fp32 bf16; do
  rm -rf "$PREFIX/run-$p"
  $L pretrain --device cuda --data synthetic --epochs 4 --batch-size 64 --precision "$p" --seed 1 \
    --out "$PREFIX/run-$p" 2>&1 | tee "$LOG/pretrain-$p.log" | grep -E "^epoch|failed" | tr '\n' ' '
  echo "<- $p"
done
# The NCCL path, world of one (LEAVES_DIST=1 builds the process group anyway).
rm -rf "$PREFIX/nccl-run"
LEAVES_DIST=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=0 $L pretrain --device cuda --data synthetic --epochs 1 \
  --batch-size 64 --out "$PREFIX/nccl-run" 2>&1 | grep -E "worker|epoch|failed" || echo "NCCL run failed"
# Last, as it is the slowest (Inductor compiles the step first): the peer's best mode at the PTB-XL shape.
bench_shape 12 1000 "--bf16 --compile" peers-only
echo
echo "| implementation | C | L | samples/s | step s | peak MiB |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]/#/| }"
for C in 1 12; do
  awk -v o="${best[ours_$C]:-0}" -v p="${best[peer_$C]:-0}" -v c="$C" \
    'BEGIN{ if (p > 0) printf("C=%s: leaves default / best peer = %.2fx\n", c, o / p) }'
done
echo "$epoch"
