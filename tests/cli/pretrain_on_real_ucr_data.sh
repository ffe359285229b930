#!/bin/sh
# Usage: pretrain_on_real_ucr_data.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
test -d $SRC/../shared/data/ucr/ECG200 || { echo 'skipped: ../shared/data absent'; exit 0; }; rm -rf cli-ecg200 && "$LEAVES" pretrain --min-steps 0 --data ucr:$SRC/../shared/data/ucr/ECG200 --epochs 1 --batch-size 16 --width 4 --out cli-ecg200 && test -f cli-ecg200/encoder.pt
