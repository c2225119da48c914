"""Every string a buyer sees comes from a gettext catalog; each .po file is compiled in memory
the first time its language is used, so no build step has to produce .mo files."""

from __future__ import annotations

import gettext
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
LANGUAGES = {"en": "English", "sn": "ChiShona", "nd": "isiNdebele", "sw": "Kiswahili"}
DEFAULT = "en"


@lru_cache(maxsize=len(LANGUAGES))
def translator(language: str) -> gettext.NullTranslations:
    """Compile the language's .po in memory, so no build step has to produce .mo files."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / "tikiti.po"
    if language == DEFAULT or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translate(language: str, message: str, **values: object) -> str:
    """Translate `message` (the English text is the key) and fill in its {placeholders}."""
    text = translator(language).gettext(message)
    return text.format(**values) if values else text
