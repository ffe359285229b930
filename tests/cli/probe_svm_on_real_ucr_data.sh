#!/bin/sh
# Usage: probe_svm_on_real_ucr_data.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
test -d $SRC/../shared/data/ucr/ECG200 || { echo 'skipped: ../shared/data absent'; exit 0; }; rm -rf cli-svm && "$LEAVES" pretrain --min-steps 0 --data ucr:$SRC/../shared/data/ucr/ECG200 --epochs 1 --batch-size 16 --width 4 --out cli-svm >/dev/null && "$LEAVES" probe --encoder cli-svm --data ucr:$SRC/../shared/data/ucr/ECG200 --probe svm | grep -q 'svm probe (RBF, gamma .*, C .* chosen by 5-fold cross-validation accuracy .* on 100 train + validation series)'
