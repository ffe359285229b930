#!/bin/sh
# Usage: download_unknown_study_exits_2.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" download mnist --dest x; test $? -eq 2
