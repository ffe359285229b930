#!/bin/sh
# Usage: pretrain_resume_missing_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" pretrain --resume does-not-exist; test $? -eq 2
