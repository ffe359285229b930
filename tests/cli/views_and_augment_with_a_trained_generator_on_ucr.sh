#!/bin/sh
# Learned views on real data: a LEAVES run on GunPoint, its views of test
# samples, the training split augmented into arrays, pre-training on those.
# Usage: views_and_augment_with_a_trained_generator_on_ucr.sh LEAVES SOURCE_DIR
LEAVES=$1 SRC=$2
DATA=$SRC/../shared/data/ucr/GunPoint
test -d "$DATA" || { echo 'skipped: ../shared/data absent'; exit 0; }
rm -rf cli-va-run cli-va-aug cli-va-again
"$LEAVES" pretrain --min-steps 0 --data "ucr:$DATA" --epochs 2 --batch-size 16 --width 4 --out cli-va-run >/dev/null || exit 1
"$LEAVES" views --data "ucr:$DATA" --generator cli-va-run --index 3 --count 2 > cli-va-views.txt || exit 1
grep -q '^generator LEAVES (cli-va-run): 19 learnable parameters, input \[2, 1, 150\]' cli-va-views.txt || exit 1
grep -Eq '^ +3  [12] ' cli-va-views.txt || exit 1
"$LEAVES" augment --generator cli-va-run --data "ucr:$DATA" --copies 3 --seed 1 --out cli-va-aug >/dev/null || exit 1
grep -q '"series": 120' cli-va-aug/augment.json || exit 1
"$LEAVES" pretrain --min-steps 0 --data arrays:x=cli-va-aug/x.npy,y=cli-va-aug/y.npy --epochs 1 --batch-size 16 --width 4 \
  --out cli-va-again >/dev/null && test -f cli-va-again/encoder.pt || exit 1
# A generator that is neither a run nor a kind is refused with exit 2.
"$LEAVES" augment --generator no-such-run --data "ucr:$DATA" --out cli-va-bad 2>/dev/null; test $? -eq 2 && test ! -e cli-va-bad
