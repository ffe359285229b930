#!/bin/sh
# Usage: quality_bad_channel_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" quality --data synthetic:size=40 --channel V9; test $? -eq 2
