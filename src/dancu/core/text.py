"""Text helpers: Vietnamese diacritic folding for search."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower-case ASCII form for diacritic- and case-insensitive search ("Nguyễn Đức" -> "nguyen duc")."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _SPACES.sub(" ", stripped).strip().lower()


def normalize_name(text: str) -> str:
    """NFC, single spaces, trimmed: the stored form of a person's name."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()
