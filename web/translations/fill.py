"""Write the Indonesian words into messages.po; run after ``make messages``. Lists what is missing."""

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

sys.path.insert(0, str(Path(__file__).parent))
from id_words import WORDS  # noqa: E402

PO = Path(__file__).parent / "id" / "LC_MESSAGES" / "messages.po"

with PO.open("rb") as f:
    catalog = read_po(f, locale="id")
missing = []
for message in catalog:
    if not message.id:
        continue
    word = WORDS.get(message.id)
    if word is None:
        missing.append(message.id)
        continue
    message.string = word
    message.flags.discard("fuzzy")
with PO.open("wb") as f:
    write_po(f, catalog, width=100)
for m in missing:
    print("missing:", m)
sys.exit(1 if missing else 0)
