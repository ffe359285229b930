#!/bin/sh
# leaves info --preset NAME: the data's sizes beside the paper's (the preset's [paper] table).
# Usage: info_beside_the_papers_sizes.sh LEAVES SOURCE_DIR
LEAVES=$1 SRC=$2
rm -rf cli-info-paper && "$LEAVES" prepare synthetic:size=100,length=64 --out cli-info-paper >/dev/null || exit 1
"$LEAVES" info cli-info-paper --preset "$SRC/configs/apnea-ecg.toml" > cli-info-paper.txt || exit 1
cat cli-info-paper.txt
grep -Eq '^paper +train \+ val +17233 +here +84 ' cli-info-paper.txt && grep -Eq '^paper +test +17010 +here +16 ' cli-info-paper.txt || exit 1
"$LEAVES" info cli-info-paper --preset "$SRC/configs/sleep-edf.toml" | grep -Eq '^paper +class REM +7717 +here +0 '
