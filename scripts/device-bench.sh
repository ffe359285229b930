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
#              default (bf16, channels-last, CUDA graph, cuDNN BatchNorm, convolution biases
#              folded into the BatchNorms), the fused BatchNorm kernels (--gpu-norm fused), and
#              the variants without each default, with a breakdown of the eager step;
#   peers:     the Python peer (fp32, --bf16, --bf16 --compile) at both shapes;
#   epoch:     one full epoch over a Sleep-EDF-sized resident set (42,308 x 1 x 3000);
#   precision: bf16 against fp32: the loss of one batch, then `leaves pretrain`
#              on the built-in set, 4 epochs, seeds 1 and 2, in each precision;
#   nccl:      the NCCL process group for a world of one;
#   conv:      each convolution shape of the encoder (B = 256, both shapes), forward and both
#              gradients by cuDNN against cuBLAS products of the same arithmetic (`leaves bench conv`):
#              how much faster convolution kernels could make each at most; and leaves' im2col +
#              cuBLAS convolution (--cl-conv gemm) against cuDNN;
#   profile:   where the step's GPU time goes, kernel by kernel (Kineto): ours at the Sleep-EDF
#              shape (default, --gpu-norm fused), at the PTB-XL shape (default: how much of the
#              graph the augmentations take), at the Sleep-EDF shape eager, then the peer --bf16 --compile
#              (scripts/profile-peer.py); traces stay under /tmp, the summaries are printed;
# and prints one table. Needs .deps/ from scripts/fetch-device-deps.sh (carried).
# Logs go to $OUT when it is set (the device tool), else to build-device/.
# Usage: bash scripts/device-bench.sh [SECTION...]   (default: all of them; `build` builds only)
#   REHEARSAL=1: a dry run of every section on this CPU with build/leaves (no build, no GPU), tiny
#     shapes (B=8; C=1 L=300 and C=12 L=100; an epoch of 64) and the fp32 peer under python3: checks
#     the script itself (sections, parsing, table, ratios) before device time is spent on it.
#   STEPS=20 (timed steps per round), PEER_MODES="fp32,--bf16,--bf16 --compile",
#   EPOCH_FLAGS="--gpu-norm fused" (extra flags of the epoch section; unset: the default, then
#     --gpu-norm fused as well when `ours` measured it faster at C=1 and `norm` was all ok),
#   BUDGET_S=560 (skip a section that would end past this many seconds from the start, by the
#     estimates in section_cost, so the table is still printed before the device tool's limit).
# Figures persist in build-device/figures.txt for the machine's boot: a later call on the same warm
# machine prints the ratio of its own figures to the best peer measured by an earlier call there.
# With --compile among PEER_MODES, the peer's torch.compile caches are filled in the background
# while leaves builds (one untimed step per shape), so the timed peer runs do not spend the call
# compiling; only their timed steps are ever measured, as before.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
SECTIONS=${*:-norm ours peers epoch precision nccl}
REHEARSAL=${REHEARSAL:-0}
if [ "$REHEARSAL" = 1 ]; then  # shapes and sizes of the dry run on the CPU
  DEV=cpu B=8 S1="1 300" S12="12 100" EPOCH_N=64 RUN_EPOCHS=1 RUN_DATA=synthetic:size=128,length=200
  PEER_PROFILE="" NORM_PRECISIONS="fp32" PY=${PY:-/usr/bin/python3}  # Debian's python3-torch
  PROFILE_PART='1,/^GPU/p'  # a CPU trace has no GPU section: its operators
  STEPS=${STEPS:-2}
  PEER_MODES=${PEER_MODES:-fp32}
else  # Sleep-EDF's shape (C L) and PTB-XL's, batch 128, a Sleep-EDF-sized epoch
  DEV=cuda B=128 S1="1 3000" S12="12 1000" EPOCH_N=42308 RUN_EPOCHS=4 RUN_DATA=synthetic
  PEER_PROFILE="--bf16 --compile" NORM_PRECISIONS="bf16 fp32" PY=${PY:-python3}
  PROFILE_PART='/^GPU/,/^thread/p'
  STEPS=${STEPS:-20}
  PEER_MODES=${PEER_MODES:-fp32,--bf16,--bf16 --compile}
fi
read -r C1 L1 <<<"$S1"
[ "$REHEARSAL" = 1 ] && echo "REHEARSAL: on this CPU with build/leaves, B=$B, shapes $S1 and $S12 (C L); the rows keep the device's variant names"
ROWS=$(( 2 * B ))  # the encoder's batch: two views per sample
EPOCH_FLAGS=${EPOCH_FLAGS-auto}
BUDGET_S=${BUDGET_S:-0}
PREFIX="${TMPDIR:-/tmp}/deps-for-leaves"  # never into /
LOG="${OUT:-build-device}"
mkdir -p "$PREFIX" "$LOG"
rm -f "$LOG/table.md"  # this run's rows only
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
if [ "$REHEARSAL" != 1 ]; then
for deb in .deps/*.deb; do dpkg -x "$deb" "$PREFIX"; done
fi
export LD_LIBRARY_PATH="$PREFIX/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
PEER=.deps/peer_pytorch.py
[ -f "$PEER" ] || PEER=../shared/bench/peer_pytorch.py
if [ "$REHEARSAL" != 1 ]; then
TORCH_PREFIX=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
NCCL_INC=$(python3 -c 'import os, nvidia.nccl as n; print(os.path.join(list(n.__path__)[0], "include"))' 2>/dev/null || true)
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader || true
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
fi
# The peer's compile caches, explicit so that every call on this machine shares them.
export TORCHINDUCTOR_CACHE_DIR="$PREFIX/inductor-cache" TRITON_CACHE_DIR="$PREFIX/triton-cache"
warm_pid=""
if [[ " $SECTIONS " =~ \ (peers|profile)\  && "$PEER_MODES" == *--compile* ]]; then
  (  # untimed: one step per shape and compiled mode, while leaves builds on the other cores
    IFS=, read -ra wlist <<<"$PEER_MODES"
    for shape in "$S1" "$S12"; do
      read -r C Lx <<<"$shape"
      for pflags in "${wlist[@]}"; do
        [[ "$pflags" == *--compile* ]] || continue
        s0=$(date +%s)
        timeout 400 "$PY" "$PEER" --B "$B" --C "$C" --L "$Lx" --steps 1 --warmup 1 $pflags >/dev/null 2>&1
        echo "peer cache warm-up C=$C $pflags: rc $? in $(( $(date +%s) - s0 )) s"
      done
    done
  ) >"$LOG/peer-warm.log" 2>&1 &
  warm_pid=$!
  trap 'kill "$warm_pid" 2>/dev/null' EXIT  # also when the build fails
fi
L=./build-device/leaves FIG=build-device/figures.txt
if [ "$REHEARSAL" = 1 ]; then
  L=./build/leaves FIG="$LOG/figures.txt"
  [ -x "$L" ] || { echo "REHEARSAL=1 needs $L (scripts/build.sh)"; exit 2; }
else
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
fi
if [ -n "$warm_pid" ]; then  # no timing while the peer compiles
  wait "$warm_pid"; cat "$LOG/peer-warm.log"; stamp "peer compile caches warm"
fi
value() { sed -nE "s/.*$1=([0-9.e+-]+).*/\1/p" <<<"$2" | tail -1; }
declare -A best from
# Figures of earlier calls on this machine since its boot (same warm machine): key value.
BOOT=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
if [ -f "$FIG" ]; then
  while read -r boot key val; do
    [ "$boot" = "$BOOT" ] && { best[$key]=$val; from[$key]="an earlier call"; }
  done <"$FIG"
fi
keep() {  # key value: this call's figure, kept for later calls on this machine
  best[$1]=$2; from[$1]="this call"; echo "$BOOT $1 $2" >>"$FIG"
}
faster() { awk -v a="${best[$1]:-0}" -v b="${best[$2]:-0}" 'BEGIN{exit !(a > 0 && b > 0 && a > b)}'; }
section_cost() {  # seconds a section takes at STEPS=15, roughly: from device runs 1 and 2 (norm, profile: guesses)
  case $1 in
    norm) echo 60 ;; ours) echo 260 ;; ours-short) echo 110 ;; epoch) echo 45 ;;
    peers) local n; n=$(tr ',' '\n' <<<"$PEER_MODES" | wc -l); echo $(( 2 * n * 25 )) ;;
    precision) echo 150 ;; nccl) echo 20 ;; profile) echo 150 ;; conv) echo 40 ;; *) echo 0 ;;
  esac
}
row() { echo "| $* |" >>"$LOG/table.md"; }
COMMON=(--device "$DEV" --batch-size "$B" --projection-hidden 0 --normalize --mixture-components 5)

ours() {  # C L [N: only the first N variants]
  local C=$1 Lx=$2 variant flags out sps
  local variants=("bf16, channels-last, CUDA graph (default)|--breakdown"
                  "bf16, channels-last, CUDA graph, fused BatchNorm and stem kernels|--gpu-norm fused --breakdown"
                  "bf16, channels-last, CUDA graph, convolution biases applied|--conv-bias apply"
                  "bf16, channels-first, CUDA graph|--layout channels-first"
                  "bf16, channels-last, eager|--no-cuda-graphs" "fp32, channels-last, CUDA graph|--precision fp32"
                  "bf16, channels-last, CUDA graph, convolutions as im2col + cuBLAS|--cl-conv gemm")
  for variant in "${variants[@]:0:${3:-7}}"; do
    flags=${variant#*|}
    out=$(timeout 150 $L bench pretrain "${COMMON[@]}" --channels "$C" --length "$Lx" --steps "$STEPS" --rounds 3 --warmup 5 $flags 2>&1 |
          tee -a "$LOG/ours.log" | tail -2)
    echo "$out"
    out=$(tail -1 <<<"$out")
    sps=$(value samples_per_s "$out")
    row "leaves (C++), ${variant%|*} | $C | $Lx | ${sps:-failed} | $(value step_s "$out") | $(value peak_mem_mib "$out")"
    [ "$flags" = "--breakdown" ] && keep "ours_$C" "${sps:-0}"
    [ "$flags" = "--gpu-norm fused --breakdown" ] && keep "fused_$C" "${sps:-0}"
    [ "$flags" = "--conv-bias apply" ] && keep "applied_$C" "${sps:-0}"
  done
  stamp "ours C=$C done"
}

peers() {  # C L
  local C=$1 Lx=$2 pflags out sps plist
  IFS=, read -ra plist <<<"$PEER_MODES"
  for pflags in "${plist[@]}"; do
    [ "$pflags" = fp32 ] && pflags=""
    out=$(timeout 200 "$PY" "$PEER" --B "$B" --C "$C" --L "$Lx" --steps "$STEPS" --warmup 5 $pflags 2>&1 |
          tee -a "$LOG/peer.log" | tail -1)
    echo "$out"
    sps=$(value samples_per_s "$out")
    row "peer PyTorch ${pflags:-fp32} | $C | $Lx | ${sps:-failed} | $(value step_s "$out") |"
    if [ -n "$sps" ] && awk "BEGIN{exit !($sps > ${best[peer_$C]:-0})}"; then keep "peer_$C" "$sps"; fi
  done
  stamp "peers C=$C done"
}

for section in $SECTIONS; do
  cost=$(section_cost "$section") elapsed=$(( $(date +%s) - t0 ))
  if (( BUDGET_S > 0 && elapsed + cost > BUDGET_S )); then
    echo "skipped section $section: ${elapsed} s gone of BUDGET_S=$BUDGET_S, it takes about $cost s"
    continue
  fi
  case $section in
    build) ;;  # the build above is all (build-device/leaves)
    ours) ours $S1; ours $S12 ;;
    ours-short) ours $S1 3; ours $S12 2 ;;  # default, fused BatchNorm (and the biases applied at C=1)
    norm)
      norm_bad=0
      for shape in "$S1" "$S12"; do  # input channels, length: Sleep-EDF, PTB-XL
        read -r Cx Lx <<<"$shape"
        for p in $NORM_PRECISIONS; do
          out=$(timeout 120 $L bench norm --device "$DEV" --precision "$p" --batch-size "$ROWS" --length "$Lx" \
                  --in-channels "$Cx" --iters 20 2>&1 | tee -a "$LOG/norm.log")
          grep -E "bench norm (total|stem|permutation|.*MISMATCH)" <<<"$out" || echo "bench norm failed (L=$Lx, $p)"
          grep -q "all ok" <<<"$out" || norm_bad=1
        done
      done
      keep norm_ok $(( norm_bad == 0 ))
      stamp "norm done" ;;
    peers) peers $S1; peers $S12 ;;
    conv)  # every convolution shape of the encoder: cuDNN against cuBLAS products of the same arithmetic
      for shape in "$S1" "$S12"; do
        read -r Cx Lx <<<"$shape"
        timeout 120 $L bench conv --device "$DEV" --batch-size "$ROWS" --length "$Lx" --in-channels "$Cx" --iters 20 2>&1 |
          tee -a "$LOG/conv.log" | sed -E 's/ B=[0-9]+//; s/ dtype=[a-z0-9]+//' || echo "bench conv failed (L=$Lx)"
      done
      stamp "conv done" ;;
    epoch)  # a full epoch over a Sleep-EDF-sized resident set, as `leaves pretrain` runs it
      eflags=("$EPOCH_FLAGS")
      if [ "$EPOCH_FLAGS" = auto ]; then
        eflags=("")
        [ "${best[norm_ok]:-0}" = 1 ] && faster fused_1 ours_1 && eflags+=("--gpu-norm fused")
      fi
      rm -f "$LOG/epoch.txt"
      for ef in "${eflags[@]}"; do
        timeout 150 $L bench pretrain "${COMMON[@]}" --channels "$C1" --length "$L1" --steps 5 --rounds 1 --warmup 5 \
          --epoch-size "$EPOCH_N" $ef 2>&1 | tee -a "$LOG/ours.log" | grep "bench epoch" | sed "s/^/${ef:-(default)}: /" |
          tee -a "$LOG/epoch.txt"
      done
      stamp "epoch done" ;;
    precision)
      $L bench pretrain --device "$DEV" --batch-size "$B" --channels "$C1" --length "$L1" --steps 1 --rounds 1 --warmup 1 \
        --check-precision 2>&1 | grep "precision check"
      for p in fp32 bf16; do
        for seed in 1 2; do
          rm -rf "$PREFIX/run-$p-$seed"
          $L pretrain --device "$DEV" --data "$RUN_DATA" --epochs "$RUN_EPOCHS" --batch-size 64 --precision "$p" --seed "$seed" \
            --out "$PREFIX/run-$p-$seed" >"$LOG/pretrain-$p-$seed.log" 2>&1
          echo "$p seed $seed: $(grep -oE 'loss [0-9.]+' "$LOG/pretrain-$p-$seed.log" | tr '\n' ' ')"
        done
      done
      stamp "precision done" ;;
    nccl)  # LEAVES_DIST=1 builds the process group even for a world of one
      rm -rf "$PREFIX/nccl-run"
      LEAVES_DIST=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=0 $L pretrain --device "$DEV" --data "$RUN_DATA" --epochs 1 \
        --batch-size 64 --out "$PREFIX/nccl-run" 2>&1 | grep -E "worker|epoch|failed" || echo "NCCL run failed" ;;
    profile)
      for run in "$S1|" "$S1|--gpu-norm fused" "$S12|" "$S1|--no-cuda-graphs"; do
        read -r C Lx <<<"${run%|*}"
        flags=${run#*|}
        echo "## leaves bench pretrain ${flags:-(default)}, C=$C, L=$Lx: GPU time per step"
        if timeout 120 $L bench pretrain "${COMMON[@]}" --channels "$C" --length "$Lx" --steps 5 --rounds 1 --warmup 5 $flags \
             --trace "$PREFIX/trace-ours.json" >>"$LOG/profile.log" 2>&1; then
          "$PY" scripts/trace-summary.py "$PREFIX/trace-ours.json" 5 25 | sed -n "$PROFILE_PART" | head -48
        else
          echo "trace failed ($flags): see profile.log"
        fi
      done
      echo "## peer ${PEER_PROFILE:-fp32}, C=$C1, L=$L1"
      rm -f "$PREFIX/trace-peer.json"
      # Into a file first: `| head` would close the pipe under the script's last prints.
      if timeout 240 "$PY" scripts/profile-peer.py "$PEER" "$PREFIX/trace-peer.json" -- --B "$B" --C "$C1" --L "$L1" \
           --steps 5 --warmup 3 $PEER_PROFILE >"$LOG/profile-peer.txt" 2>>"$LOG/profile.log"; then
        head -32 "$LOG/profile-peer.txt"
      else
        echo "peer profile failed: see profile.log"
      fi
      # The same roll-up by kind as for ours.
      [ -s "$PREFIX/trace-peer.json" ] && "$PY" scripts/trace-summary.py "$PREFIX/trace-peer.json" 5 0 |
        sed -n '/^GPU time by kind/,/^GPU time by kernel/p' 
      stamp "profile done" ;;
    *) echo "unknown section '$section' (build norm ours ours-short peers epoch precision nccl profile conv)"; exit 2 ;;
  esac
done
if [ -f "$LOG/table.md" ]; then
  echo
  echo "| implementation | C | L | samples/s | step s | peak MiB |"
  echo "|---|---|---|---|---|---|"
  cat "$LOG/table.md"
fi
ratio() {  # C key label
  local o=${best[$2_$1]:-0} p=${best[peer_$1]:-0}
  awk -v o="$o" -v p="$p" -v c="$1" -v l="$3" -v fo="${from[$2_$1]:-}" -v fp="${from[peer_$1]:-}" \
    'BEGIN{ if (p > 0 && o > 0) printf("C=%s: leaves %s / best peer = %.2fx  (%s, %.0f / %.0f samples/s; peer: %s)\n",
                                       c, l, o / p, fo, o, p, fp) }'
}
for C in 1 12; do
  ratio "$C" ours default
  ratio "$C" fused "--gpu-norm fused"
done
if [ "${best[norm_ok]:-}" = 1 ] && faster fused_1 ours_1 && faster fused_12 ours_12; then
  echo "norm all ok and --gpu-norm fused faster at both shapes: make it the default"
elif [ -n "${best[fused_1]:-}" ]; then
  echo "keep --gpu-norm torch as the default (norm_ok=${best[norm_ok]:-not run})"
fi
awk -v f="${best[ours_1]:-0}" -v a="${best[applied_1]:-0}" 'BEGIN{ if (f > 0 && a > 0)
  printf("C=1: convolution biases folded into the BatchNorms (default) / applied = %.3fx (%.0f / %.0f samples/s)\n", f / a, f, a) }'
[ -f "$LOG/epoch.txt" ] && cat "$LOG/epoch.txt"
stamp "all done"
