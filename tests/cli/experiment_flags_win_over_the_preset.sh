#!/bin/sh
# A flag given on the command line wins over the preset, whatever it is
# (positive, select, validation, min-steps, sigma), and the experiment says
# where its settings came from.
# Usage: experiment_flags_win_over_the_preset.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
rm -rf cli-preset && "$LEAVES" experiment --data synthetic:size=40,length=64 --preset "$SRC/configs/apnea-ecg.toml" \
  --positive irregular --select accuracy --validation none --finetune-min-steps 5 --methods supervised --seeds 1 \
  --finetune-epochs 1 --batch-size 8 --width 4 --bootstrap 0 --out cli-preset > cli-preset.txt || exit 1
grep -q '^settings: preset apnea-ecg; from the command line: .*--positive' cli-preset.txt && grep -q '^settings: .*--validation' cli-preset.txt &&
  grep -q '"positive": "irregular"' cli-preset/experiment.json &&
  grep -q '"select": "accuracy"' cli-preset/experiment.json &&
  grep -q '"validation": "none"' cli-preset/experiment.json &&
  grep -q '"min_steps": 5' cli-preset/experiment.json &&
  grep -q '"schedule": "constant"' cli-preset/experiment.json &&
  grep -q '"knots": 8' cli-preset/experiment.json
