#!/usr/bin/env bash
# The CPU goal of issue #7, measured: one adversarial LEAVES step at B=32,
# C=1, L=1000 (two threads), ours against the Python peer run with Debian's
# python3-torch (the same LibTorch 1.13 underneath), in alternating pairs so
# that both see the same machine. Reports every pair and, per side, the
# fastest and the median step; the ratio of the fastest steps is the figure
# least disturbed by other load on a shared machine.
#
# Usage: scripts/cpu-vs-peer.sh [pairs] [extra leaves bench arguments...]
# Needs: build/leaves, ../shared/bench/peer_pytorch.py, /usr/bin/python3 with torch.
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-6}
shift || true
PEER=../shared/bench/peer_pytorch.py
[ -x build/leaves ] || { echo "cpu-vs-peer: build/leaves is missing (scripts/build.sh)" >&2; exit 2; }
[ -f "$PEER" ] || { echo "cpu-vs-peer: $PEER is missing" >&2; exit 2; }
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
ours=() peer=()
for i in $(seq 1 "$PAIRS"); do
  o=$(build/leaves bench pretrain --batch-size 32 --channels 1 --length 1000 --projection-hidden 0 --normalize \
        --steps 3 --rounds 1 --warmup 2 "$@" | sed -n 's/.*step_s=\([0-9.]*\).*/\1/p' | tail -1)
  p=$(/usr/bin/python3 "$PEER" --B 32 --C 1 --L 1000 --steps 3 --warmup 2 | sed -n 's/.*step_s=\([0-9.]*\).*/\1/p')
  echo "pair $i: leaves step_s=$o  peer step_s=$p"
  ours+=("$o") peer+=("$p")
done
python3 - "${ours[*]}" "${peer[*]}" <<'PY'
import statistics, sys
o = [float(v) for v in sys.argv[1].split()]; p = [float(v) for v in sys.argv[2].split()]
print(f"leaves: fastest {min(o):.3f} s  median {statistics.median(o):.3f} s  ({32/min(o):.1f} samples/s at best)")
print(f"peer:   fastest {min(p):.3f} s  median {statistics.median(p):.3f} s  ({32/min(p):.1f} samples/s at best)")
print(f"speed-up, fastest against fastest: {min(p)/min(o):.2f}x; median against median: {statistics.median(p)/statistics.median(o):.2f}x")
PY
