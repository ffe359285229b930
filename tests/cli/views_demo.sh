#!/bin/sh
# The command-line tool, end to end: a good run and a bad flag.
# Usage: views_demo.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" views --count 2 --length 301 --seed 3
