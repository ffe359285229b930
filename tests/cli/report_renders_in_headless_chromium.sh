#!/bin/sh
# The HTML report of a fresh pre-training run, opened by headless Chromium
# (Debian's chromium): the page must load with no console message at all and
# its DOM must hold the embedded figures. Writes report-chromium.png (a
# screenshot) beside the test's working directory.
set -eu
LEAVES="$1"
CHROMIUM="${LEAVES_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
if [ -z "$CHROMIUM" ]; then
  echo "chromium not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
rm -rf report-run report-profile
"$LEAVES" pretrain --min-steps 0 --data synthetic:size=64,length=300 --epochs 2 --batch-size 16 --width 4 --out report-run >/dev/null
"$LEAVES" report report-run --out report-run/report.html
FLAGS="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --user-data-dir=$PWD/report-profile --enable-logging=stderr --v=0"
# shellcheck disable=SC2086
"$CHROMIUM" $FLAGS --dump-dom "file://$PWD/report-run/report.html" > report-dom.html 2> report-console.log || true
if grep -q "CONSOLE" report-console.log; then
  echo "console messages from the report:" >&2
  grep "CONSOLE" report-console.log >&2
  exit 1
fi
n=$(grep -o '<img alt=' report-dom.html | wc -l)
if [ "$n" -lt 4 ]; then
  echo "expected at least 4 figures in the rendered DOM, found $n" >&2
  exit 1
fi
# shellcheck disable=SC2086
"$CHROMIUM" $FLAGS --window-size=1200,2400 --screenshot="$PWD/report-chromium.png" "file://$PWD/report-run/report.html" 2>/dev/null || true
echo "report rendered with $n figures and no console messages"
