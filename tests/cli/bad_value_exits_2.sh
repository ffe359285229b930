#!/bin/sh
# Usage: bad_value_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" views --eta -1; test $? -eq 2
