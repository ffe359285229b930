#!/bin/sh
# Usage: experiment_flags_win_over_the_preset.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
rm -rf cli-preset && "$LEAVES" experiment --data synthetic:size=40,length=64 --preset $SRC/configs/apnea-ecg.toml --positive irregular --select accuracy --methods supervised --seeds 1 --finetune-epochs 1 --batch-size 8 --width 4 --bootstrap 0 --out cli-preset >/dev/null && grep -q '"positive": "irregular"' cli-preset/experiment.json && grep -q '"select": "accuracy"' cli-preset/experiment.json && grep -q '"schedule": "constant"' cli-preset/experiment.json
