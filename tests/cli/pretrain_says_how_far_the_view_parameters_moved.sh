#!/bin/sh
# Usage: pretrain_says_how_far_the_view_parameters_moved.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
rm -rf cli-moved && "$LEAVES" pretrain --min-steps 0 --data synthetic:size=64,length=64 --epochs 2 --batch-size 16 --width 4 --out cli-moved | grep -Eq '^view parameters: the largest moved [0-9.e+-]+ % from its start \(' && grep -q generator_start cli-moved/config.json
