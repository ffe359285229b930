#!/bin/sh
# Usage: plot_views_and_gallery.sh LEAVES SOURCE_DIR (run in a scratch folder: the build folder)
LEAVES=$1 SRC=$2
"$LEAVES" plot views --data synthetic:size=40,length=300 --method leaves --method viewmaker --out cli-plot-views --width 640 --height 360 && "$LEAVES" plot gallery --data synthetic:size=40,length=300 --out cli-plot-gallery && test -s cli-plot-views.png && test -s cli-plot-views.svg && test -s cli-plot-gallery.png
