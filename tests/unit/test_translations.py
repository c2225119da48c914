"""Every buyer-facing message is translated, keeps its placeholders, and stays GSM-7 safe."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from tikiti.core.i18n import LANGUAGES, LOCALE_DIR, translate

PLACEHOLDER = re.compile(r"\{\w+\}")


def catalog(language: str):  # type: ignore[no-untyped-def]
    with (LOCALE_DIR / language / "LC_MESSAGES" / "tikiti.po").open("rb") as handle:
        return read_po(handle, locale=language)


def template_ids() -> set[str]:
    with (LOCALE_DIR / "tikiti.pot").open("rb") as handle:
        return {m.id for m in read_po(handle) if m.id}


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    messages = {m.id: m for m in catalog(language) if m.id}
    missing = template_ids() - {i for i, m in messages.items() if m.string and not m.fuzzy}
    assert not missing, f"untranslated in {language}: {sorted(missing)}"
    for msgid, message in messages.items():
        assert sorted(PLACEHOLDER.findall(msgid)) == sorted(PLACEHOLDER.findall(message.string))
        assert message.string.isascii(), message.string


def test_the_template_lists_every_message_in_the_code(tmp_path: Path) -> None:
    """A new message without `make messages` would reach buyers in English only."""
    fresh = tmp_path / "fresh.pot"
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         "--no-default-keywords", "-k", "t", "-k", "translate:2", "-k", "_:2", "--no-location",
         "-o", str(fresh), "."],
        check=True, capture_output=True,
    )  # fmt: skip
    with fresh.open("rb") as handle:
        in_code = {m.id for m in read_po(handle) if m.id}
    assert in_code == template_ids()


def test_translate_fills_placeholders_in_the_chosen_language() -> None:
    english = translate("en", "Sorry, only {left} left.", left=3)
    swahili = translate("sw", "Sorry, only {left} left.", left=3)
    assert english == "Sorry, only 3 left." and "3" in swahili and swahili != english
