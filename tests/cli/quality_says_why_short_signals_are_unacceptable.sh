#!/bin/sh
# Usage: quality_says_why_short_signals_are_unacceptable.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" quality --data synthetic:size=40,length=500 | grep -q 'basSQI is undefined for 6 of 6 signals (5 s each'
