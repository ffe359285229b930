#!/bin/sh
# Usage: bad_flag_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" views --generator nonsense; test $? -eq 2
