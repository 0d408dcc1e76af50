#!/usr/bin/env bash
# Re-extract the UI messages, merge them into every catalogue, and check that the
# zh_CN (default) catalogue is complete. Exits 1 if any zh_CN message is untranslated.
# The English catalogue is meant to stay empty: English falls back to the msgid.
# The Simplified Chinese catalogue lives in zh_Hans_CN/, not zh_CN/: Babel expands the
# app's "zh_CN" locale to zh_Hans_CN, and gettext only looks in zh_Hans_CN/ and zh/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

if [[ -x .venv/bin/pybabel ]]; then
    PYBABEL=.venv/bin/pybabel
    PYTHON=.venv/bin/python
else
    PYBABEL=pybabel
    PYTHON=python3
fi

POT=webapp/translations/messages.pot
ZH_PO=webapp/translations/zh_Hans_CN/LC_MESSAGES/messages.po

"$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext -k N_ -o "$POT" .
"$PYBABEL" update -i "$POT" -d webapp/translations --no-fuzzy-matching

"$PYTHON" - "$ZH_PO" <<'PY'
import sys
from babel.messages.pofile import read_po

path = sys.argv[1]
with open(path, "rb") as f:
    catalog = read_po(f)
todo = [m for m in catalog
        if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string))
                     or m.fuzzy)]
print(f"zh_CN: {len(todo)} untranslated (or fuzzy) message(s) of {sum(1 for m in catalog if m.id)}")
for m in todo:
    print("  -", m.id if isinstance(m.id, str) else m.id[0])
sys.exit(1 if todo else 0)
PY
