#!/usr/bin/env bash
# On the GPU machine, in one call: builds leaves against the LibTorch that ships
# with PyTorch (CUDA), then
#   norm:      leaves' fused BatchNorm + residual + LeakyReLU CUDA kernels against cuDNN's
#              BatchNorm and LibTorch's ops at every BatchNorm shape of the encoder, and the fused
#              stem (convolution + BatchNorm + LeakyReLU + max-pool) against the separate ops
#              (B = 256 rows; L = 3000 with 1 input channel, L = 1000 with 12; bf16, then fp32):
#              time, and the error of each against float64 (`leaves bench norm` exits 1 when
#              the fused error exceeds twice LibTorch's);
#   ours:      (ours-short: fewer variants) times our adversarial LEAVES step at the Sleep-EDF shape (C=1,
#              L=3000) and the PTB-XL shape (C=12, L=1000), batch 128: the
#              default (bf16, channels-last, CUDA graph, cuDNN BatchNorm), the fused
#              BatchNorm kernels (--gpu-norm fused), and the variants without each
#              default, with a breakdown of the eager step;
#   peers:     the Python peer (fp32, --bf16, --bf16 --compile) at both shapes;
#   epoch:     one full epoch over a Sleep-EDF-sized resident set (42,308 x 1 x 3000);
#   precision: bf16 against fp32: the loss of one batch, then `leaves pretrain`
#              on the built-in set, 4 epochs, seeds 1 and 2, in each precision;
#   nccl:      the NCCL process group for a world of one;
#   profile:   where the step's GPU time goes, kernel by kernel (Kineto): ours at the Sleep-EDF
#              shape (default, --gpu-norm fused, eager), then the peer --bf16 --compile
#              (scripts/profile-peer.py); traces stay under /tmp, the summaries are printed;
# and prints one table. Needs .deps/ from scripts/fetch-device-deps.sh (carried).
# Logs go to $OUT when it is set (the device tool), else to build-device/.
# Usage: bash scripts/device-bench.sh [SECTION...]   (default: all of them; `build` builds only)
#   STEPS=20 (timed steps per round), PEER_MODES="fp32,--bf16,--bf16 --compile",
#   EPOCH_FLAGS="--gpu-norm fused" (extra flags of the epoch section)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
SECTIONS=${*:-norm ours peers epoch precision nccl}
STEPS=${STEPS:-20}
PEER_MODES=${PEER_MODES:-fp32,--bf16,--bf16 --compile}
EPOCH_FLAGS=${EPOCH_FLAGS:-}
PREFIX="${TMPDIR:-/tmp}/deps-for-leaves"  # never into /
LOG="${OUT:-build-device}"
mkdir -p "$PREFIX" "$LOG"
rm -f "$LOG/table.md"  # this run's rows only
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
for deb in .deps/*.deb; do dpkg -x "$deb" "$PREFIX"; done
export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PEER=.deps/peer_pytorch.py
[ -f "$PEER" ] || PEER=../shared/bench/peer_pytorch.py
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
NCCL_INC=$(python3 -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], "include"))' 2>/dev/null || true)
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader || true
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
# nvcc for leaves' own CUDA kernels: on the PATH, else where PyTorch finds it.
NVCC=$(command -v nvcc || python3 -c 'from torch.utils.cpp_extension import CUDA_HOME as h; print(h + "/bin/nvcc" if h else "")' 2>/dev/null || true)
echo "nvcc: ${NVCC:-not found (the fused CUDA kernels will not be built)}"
if ! cmake -S . -B build-device "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DLEAVES_BUILD_TESTS=OFF -DLEAVES_BUILD_BENCH=OFF \
    -DLEAVES_REQUIRE_CURL=OFF -DLEAVES_OPENMP=OFF -DOPENSSL_ROOT_DIR="$PREFIX/usr" ${NCCL_INC:+-DNCCL_INCLUDE_DIR="$NCCL_INC"} \
    ${NVCC:+-DCMAKE_CUDA_COMPILER="$NVCC"} \
    -DCMAKE_PREFIX_PATH="$TORCH_PREFIX;$PREFIX/usr" >"$LOG/configure.log" 2>&1; then
  tail -40 "$LOG/configure.log"; exit 1
fi
grep -E "leaves:" "$LOG/configure.log" || true
if ! cmake --build build-device --target leaves -j "$(nproc)" >"$LOG/build.log" 2>&1; then
  grep -E "error|Error" "$LOG/build.log" | head -40; exit 1
fi
stamp "device build done"
L=./build-device/leaves
value() { sed -nE "s/.*$1=([0-9.e+-]+).*/\1/p" <<<"$2" | tail -1; }
declare -A best
row() { echo "| $* |" >>"$LOG/table.md"; }
COMMON=(--device cuda --batch-size 128 --projection-hidden 0 --normalize --mixture-components 5)

ours() {  # C L [N: only the first N variants]
  local C=$1 Lx=$2 variant flags out sps
  local variants=("bf16, channels-last, CUDA graph (default)|--breakdown"
                  "bf16, channels-last, CUDA graph, fused BatchNorm and stem kernels|--gpu-norm fused --breakdown"
                  "bf16, channels-first, CUDA graph|--layout channels-first"
                  "bf16, channels-last, eager|--no-cuda-graphs" "fp32, channels-last, CUDA graph|--precision fp32")
  for variant in "${variants[@]:0:${3:-5}}"; do
    flags=${variant#*|}
    out=$($L bench pretrain "${COMMON[@]}" --channels "$C" --length "$Lx" --steps "$STEPS" --rounds 3 --warmup 5 $flags 2>&1 |
          tee -a "$LOG/ours.log" | tail -2)
    echo "$out"
    out=$(tail -1 <<<"$out")
    sps=$(value samples_per_s "$out")
    row "leaves (C++), ${variant%|*} | $C | $Lx | ${sps:-failed} | $(value step_s "$out") | $(value peak_mem_mib "$out")"
    [ "$flags" = "--breakdown" ] && best[ours_$C]=${sps:-0}
    [ "$flags" = "--gpu-norm fused --breakdown" ] && best[fused_$C]=${sps:-0}
  done
  stamp "ours C=$C done"
}

peers() {  # C L
  local C=$1 Lx=$2 pflags out sps plist
  IFS=, read -ra plist <<<"$PEER_MODES"
  for pflags in "${plist[@]}"; do
    [ "$pflags" = fp32 ] && pflags=""
    out=$(timeout 200 python3 "$PEER" --B 128 --C "$C" --L "$Lx" --steps "$STEPS" --warmup 5 $pflags 2>&1 |
          tee -a "$LOG/peer.log" | tail -1)
    echo "$out"
    sps=$(value samples_per_s "$out")
    row "peer PyTorch ${pflags:-fp32} | $C | $Lx | ${sps:-failed} | $(value step_s "$out") |"
    if [ -n "$sps" ] && awk "BEGIN{exit !($sps > ${best[peer_$C]:-0})}"; then best[peer_$C]=$sps; fi
  done
  stamp "peers C=$C done"
}

for section in $SECTIONS; do
  case $section in
    build) ;;  # the build above is all (build-device/leaves)
    ours) ours 1 3000; ours 12 1000 ;;
    ours-short) ours 1 3000 3; ours 12 1000 2 ;;  # default, fused BatchNorm (and channels-first at C=1)
    norm)
      for shape in "3000 1" "1000 12"; do  # length, input channels: Sleep-EDF, PTB-XL
        read -r Lx Cx <<<"$shape"
        for p in bf16 fp32; do
          $L bench norm --device cuda --precision "$p" --batch-size 256 --length "$Lx" --in-channels "$Cx" --iters 20 2>&1 |
            tee -a "$LOG/norm.log" | grep -E "bench norm (total|stem|.*MISMATCH)" || echo "bench norm failed (L=$Lx, $p)"
        done
      done
      stamp "norm done" ;;
    peers) peers 1 3000; peers 12 1000 ;;
    epoch)  # a full epoch over a Sleep-EDF-sized resident set, as `leaves pretrain` runs it
      $L bench pretrain "${COMMON[@]}" --channels 1 --length 3000 --steps 5 --rounds 1 --warmup 5 --epoch-size 42308 $EPOCH_FLAGS 2>&1 |
        tee -a "$LOG/ours.log" | grep "bench epoch" | tee "$LOG/epoch.txt"
      stamp "epoch done" ;;
    precision)
      $L bench pretrain --device cuda --batch-size 128 --channels 1 --length 3000 --steps 1 --rounds 1 --warmup 1 \
        --check-precision 2>&1 | grep "precision check"
      for p in fp32 bf16; do
        for seed in 1 2; do
          rm -rf "$PREFIX/run-$p-$seed"
          $L pretrain --device cuda --data synthetic --epochs 4 --batch-size 64 --precision "$p" --seed "$seed" \
            --out "$PREFIX/run-$p-$seed" >"$LOG/pretrain-$p-$seed.log" 2>&1
          echo "$p seed $seed: $(grep -oE 'loss [0-9.]+' "$LOG/pretrain-$p-$seed.log" | tr '\n' ' ')"
        done
      done
      stamp "precision done" ;;
    nccl)  # LEAVES_DIST=1 builds the process group even for a world of one
      rm -rf "$PREFIX/nccl-run"
      LEAVES_DIST=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=0 $L pretrain --device cuda --data synthetic --epochs 1 \
        --batch-size 64 --out "$PREFIX/nccl-run" 2>&1 | grep -E "worker|epoch|failed" || echo "NCCL run failed" ;;
    profile)
      for flags in "" "--gpu-norm fused" "--no-cuda-graphs"; do
        echo "## leaves bench pretrain ${flags:-(default)}, C=1, L=3000: GPU time per step"
        if $L bench pretrain "${COMMON[@]}" --channels 1 --length 3000 --steps 5 --rounds 1 --warmup 5 $flags \
             --trace "$PREFIX/trace-ours.json" >>"$LOG/profile.log" 2>&1; then
          python3 scripts/trace-summary.py "$PREFIX/trace-ours.json" 5 25 | sed -n '/^GPU/,/^thread/p' | head -27
        else
          echo "trace failed ($flags): see profile.log"
        fi
      done
      echo "## peer --bf16 --compile, C=1, L=3000"
      timeout 240 python3 scripts/profile-peer.py "$PEER" -- --B 128 --C 1 --L 3000 --steps 5 --warmup 3 --bf16 --compile \
        2>>"$LOG/profile.log" | head -32 || echo "peer profile failed: see profile.log"
      stamp "profile done" ;;
    *) echo "unknown section '$section' (build norm ours ours-short peers epoch precision nccl profile)"; exit 2 ;;
  esac
done
if [ -f "$LOG/table.md" ]; then
  echo
  echo "| implementation | C | L | samples/s | step s | peak MiB |"
  echo "|---|---|---|---|---|---|"
  cat "$LOG/table.md"
fi
for C in 1 12; do
  awk -v o="${best[ours_$C]:-0}" -v p="${best[peer_$C]:-0}" -v c="$C" \
    'BEGIN{ if (p > 0 && o > 0) printf("C=%s: leaves default / best peer = %.2fx\n", c, o / p) }'
  awk -v o="${best[fused_$C]:-0}" -v p="${best[peer_$C]:-0}" -v c="$C" \
    'BEGIN{ if (p > 0 && o > 0) printf("C=%s: leaves --gpu-norm fused / best peer = %.2fx\n", c, o / p) }'
done
[ -f "$LOG/epoch.txt" ] && cat "$LOG/epoch.txt"
stamp "all done"
