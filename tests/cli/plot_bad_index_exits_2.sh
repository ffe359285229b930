#!/bin/sh
# Usage: plot_bad_index_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" plot views --data synthetic:size=40 --index 999 --method leaves --out x; test $? -eq 2
