#!/bin/sh
# Usage: quality_table_on_synthetic_ecg.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" quality --data synthetic:size=40,length=1000 --method leaves --method viewmaker --out cli-quality | grep -q '| ViewMaker, untrained |' && test -s cli-quality/quality.csv
