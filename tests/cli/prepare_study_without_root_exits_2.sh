#!/bin/sh
# Usage: prepare_study_without_root_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" prepare apnea-ecg --out x; test $? -eq 2
