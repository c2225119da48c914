"""Fitting a screen into a channel's limit: options split into pages, text kept GSM-7 safe."""

from __future__ import annotations

import unicodedata

MAX_OPTIONS = 9  # keys 1-9; 0, 00 and 98 are navigation
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def gsm7(text: str) -> str:
    """Keep what feature phones show; fold accents and drop the rest (no UCS-2 switch)."""
    if GSM7_BASIC.issuperset(text):  # the usual case, checked in C
        return text
    folded = unicodedata.normalize("NFKD", text)
    kept = (ch for ch in folded if ch in GSM7_BASIC or (ch.isascii() and ch.isprintable()))
    return "".join(kept)


def fit_text(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(room - 2, 0)].rstrip() + ".."


def paginate(
    text: str, labels: list[str], navigation: str, more: str, room: int
) -> list[list[int]]:
    """Split option indexes into pages; every page but the last also shows `more`.

    A page is `text`, "N. label" lines and the navigation line, the empty ones left out, joined
    by newlines; its length is counted as it grows rather than by joining the whole trial
    screen again for each option tried (quadratic in a long listing)."""
    with_more = f"{navigation} {more}".strip()
    head_chars, head_lines = len(text), 1 if text else 0
    pages: list[list[int]] = []
    start = 0
    while start < len(labels) or not pages:
        page: list[int] = []
        chars, lines = head_chars, head_lines  # the non-empty lines so far and their length
        for index in range(start, len(labels)):
            if len(page) == MAX_OPTIONS:
                break
            nav = with_more if index + 1 < len(labels) else navigation
            line = len(str(len(page) + 1)) + 2 + len(labels[index])  # "N. label"
            total, count = chars + line + len(nav), lines + 1 + (1 if nav else 0)
            if total + count - 1 > room:  # one newline between each two lines
                break
            page.append(index)
            chars, lines = chars + line, lines + 1
        if not page and start < len(labels):
            page = [start]  # a label too long for any page still gets shown, cut later
        pages.append(page)
        start = (page[-1] + 1) if page else len(labels)
    return pages
