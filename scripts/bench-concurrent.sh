#!/usr/bin/env bash
# Two leaves runs side by side against one alone, under each OpenMP wait policy.
#   bash scripts/bench-concurrent.sh [DATA_SPEC] [EXTRA supervised OPTIONS...]
# Default: a 10-epoch supervised run on UCR ECG200 from ../shared/data at the
# default width. Prints the wall time of each run (seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
LEAVES=${LEAVES:-build/leaves}
DATA=${1:-ucr:../shared/data/ucr/ECG200}
shift || true
EXTRA=("$@")
[ ${#EXTRA[@]} -eq 0 ] && EXTRA=(--epochs 10 --batch-size 32)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
run() {  # run NAME: one supervised run, its wall time appended to $tmp/times
  local t0 t1
  t0=$(date +%s.%N)
  "$LEAVES" supervised --data "$DATA" "${EXTRA[@]}" --out "$tmp/$1" >/dev/null
  t1=$(date +%s.%N)
  echo "$t0 $t1" | awk '{printf "%.2f\n", $2 - $1}' >> "$tmp/times"
  rm -rf "${tmp:?}/$1"
}
for policy in passive active; do
  export OMP_WAIT_POLICY=$policy
  : > "$tmp/times"; run a; run b
  alone=$(paste -sd' ' "$tmp/times")
  : > "$tmp/times"; run a & run b; wait
  both=$(paste -sd' ' "$tmp/times")
  echo "OMP_WAIT_POLICY=$policy  alone: $alone s  two at once: $both s"
done
