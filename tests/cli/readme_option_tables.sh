#!/bin/sh
# The README's option tables are the schema's (leaves/train/options.h): each
# block between <!-- options:NAME --> and <!-- /options:NAME --> equals
# `leaves options NAME`. Regenerate with scripts/readme-options.sh.
# Usage: readme_option_tables.sh LEAVES SOURCE_DIR
LEAVES=$1 SRC=$2
status=0
for which in pretrain finetune; do
  awk -v which="$which" '
    $0 == "<!-- /options:" which " -->" { inside = 0 }
    inside { print }
    $0 == "<!-- options:" which " -->" { inside = 1 }' "$SRC/README.md" > "readme-$which.md"
  "$LEAVES" options "$which" > "schema-$which.md" || exit 1
  if ! test -s "readme-$which.md"; then
    echo "README.md has no <!-- options:$which --> block"; status=1
  elif ! diff -u "readme-$which.md" "schema-$which.md"; then
    echo "README.md's $which options differ from the schema: run scripts/readme-options.sh"; status=1
  fi
done
exit $status
