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
    if all(ch in GSM7_BASIC for ch in text):
        return text
    folded = unicodedata.normalize("NFKD", text)
    kept = (ch for ch in folded if ch in GSM7_BASIC or (ch.isascii() and ch.isprintable()))
    return "".join(kept)


def _length(text: str, labels: list[str], navigation: str) -> int:
    lines = [text, *(f"{i + 1}. {label}" for i, label in enumerate(labels))]
    if navigation:
        lines.append(navigation)
    return len("\n".join(line for line in lines if line))


def fit_text(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(room - 2, 0)].rstrip() + ".."


def paginate(
    text: str, labels: list[str], navigation: str, more: str, room: int
) -> list[list[int]]:
    """Split option indexes into pages; every page but the last also shows `more`."""
    pages: list[list[int]] = []
    start = 0
    while start < len(labels) or not pages:
        page: list[int] = []
        for index in range(start, len(labels)):
            trial = [labels[i] for i in [*page, index]]
            nav = f"{navigation} {more}".strip() if index + 1 < len(labels) else navigation
            if len(page) == MAX_OPTIONS or _length(text, trial, nav) > room:
                break
            page.append(index)
        if not page and start < len(labels):
            page = [start]  # a label too long for any page still gets shown, cut later
        pages.append(page)
        start = (page[-1] + 1) if page else len(labels)
    return pages
