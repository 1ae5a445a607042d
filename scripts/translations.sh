#!/usr/bin/env bash
# The console's message catalogs (callback/web/translations; README "Console / 监督工作台"): extract every
# _()/gettext/_l/N_ text of the console into messages.pot, merge it into the zh_Hans, zh_Hant and en catalogs,
# then compile them to the .mo files the app loads. Run it after changing a console text, fill in the new
# msgstr lines (zh_Hans repeats the Simplified msgid), and run it again to compile.
# tests/callback/web/console/test_i18n.py fails while a text is missing from a catalog or a .mo is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DIR=callback/web/translations
"$BIN/pybabel" extract -F babel.cfg -k N_ -k _l --no-location --sort-output --omit-header \
  -o "$DIR/messages.pot" .
for lang in zh_Hans zh_Hant en; do
  if [ -f "$DIR/$lang/LC_MESSAGES/messages.po" ]; then
    "$BIN/pybabel" update -i "$DIR/messages.pot" -d "$DIR" -l "$lang" --no-fuzzy-matching --ignore-obsolete
  else
    "$BIN/pybabel" init -i "$DIR/messages.pot" -d "$DIR" -l "$lang"
  fi
done
"$BIN/pybabel" compile -d "$DIR" --statistics
