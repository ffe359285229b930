#!/bin/sh
# Checks that two builds of leaves train the same networks on the CPU: the same
# pre-training, fine-tuning and supervised runs (fixed seeds, real UCR data)
# with each, then every logged loss, the encoder file and the test predictions
# compared exactly. Use it before and after a refactoring.
# Usage: scripts/same-runs.sh OLD_LEAVES NEW_LEAVES [DATA_SPEC] [SCRATCH]
set -eu
OLD=$1 NEW=$2
DATA=${3:-ucr:$(cd "$(dirname "$0")/.." && pwd)/../shared/data/ucr/ECG200}
SCRATCH=${4:-$(mktemp -d)}
for side in old new; do
  B=$OLD; [ "$side" = new ] && B=$NEW
  rm -rf "$SCRATCH/$side"
  "$B" pretrain --data "$DATA" --epochs 3 --min-steps 0 --width 8 --batch-size 16 --seed 3 --out "$SCRATCH/$side/pre" >/dev/null
  "$B" finetune --encoder "$SCRATCH/$side/pre" --data "$DATA" --epochs 3 --min-steps 0 --seed 1 --out "$SCRATCH/$side/ft" >/dev/null
  "$B" supervised --data "$DATA" --epochs 3 --min-steps 0 --width 8 --out "$SCRATCH/$side/sup" >/dev/null
done
python3 - "$SCRATCH" <<'PY'
import json, sys
root = sys.argv[1]
def logged(side, run, keys):
    return [tuple(json.loads(l).get(k) for k in keys) for l in open(f"{root}/{side}/{run}/log.jsonl")]
same = True
for run, keys in [("pre", ["encoder_loss", "generator_loss", "positive_similarity", "generator"]),
                  ("ft", ["train_loss", "lr", "val"]), ("sup", ["train_loss", "lr", "val"])]:
    a, b = logged("old", run, keys), logged("new", run, keys)
    print(f"{run}: {len(a)} epochs, losses {'identical' if a == b else 'DIFFER'} (last {a[-1][0]!r})")
    same &= a == b
for f in ["pre/encoder.pt", "ft/test_predictions.csv", "sup/test_predictions.csv"]:
    eq = open(f"{root}/old/{f}", "rb").read() == open(f"{root}/new/{f}", "rb").read()
    print(f"{f}: {'identical' if eq else 'DIFFERS'}")
    same &= eq
sys.exit(0 if same else 1)
PY
