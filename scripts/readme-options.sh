#!/bin/sh
# Rewrites the option tables of README.md from the option schema
# (`leaves options pretrain|finetune`), between the lines
# <!-- options:NAME --> and <!-- /options:NAME -->.
# Usage: scripts/readme-options.sh [LEAVES]   (default: build/leaves)
set -eu
cd "$(dirname "$0")/.."
LEAVES=${1:-build/leaves}
for which in pretrain finetune; do
  "$LEAVES" options "$which" > "README.options.$which.tmp"
  awk -v which="$which" -v table="README.options.$which.tmp" '
    $0 == "<!-- options:" which " -->" { print; while ((getline line < table) > 0) print line; skip = 1; next }
    $0 == "<!-- /options:" which " -->" { skip = 0 }
    !skip { print }' README.md > README.md.tmp
  mv README.md.tmp README.md
  rm -f "README.options.$which.tmp"
done
