#!/bin/sh
# Data-parallel: two local workers over Gloo, then the run resumes in one process.
# Usage: launch_two_workers_pretrain_resume_in_one_then_finetune.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
rm -rf cli-dp && "$LEAVES" launch --nproc 2 -- pretrain --min-steps 0 --data synthetic:size=120,length=64 --epochs 2 --batch-size 8 --width 4 --sync-batchnorm --out cli-dp && grep -q '"world_size": 2' cli-dp/config.json && test -f cli-dp/encoder.pt && "$LEAVES" pretrain --resume cli-dp --epochs 3 && test $(wc -l < cli-dp/log.jsonl) -eq 3 && rm -rf cli-dp-ft && "$LEAVES" launch --nproc 2 -- finetune --min-steps 0 --encoder cli-dp --data synthetic:size=120,length=64 --epochs 2 --batch-size 8 --bootstrap 10 --out cli-dp-ft && grep -q '"world_size": 2' cli-dp-ft/config.json && grep -q '"bn_stats": "recompute"' cli-dp-ft/config.json && test -f cli-dp-ft/metrics.json && test $(wc -l < cli-dp-ft/log.jsonl) -eq 2
