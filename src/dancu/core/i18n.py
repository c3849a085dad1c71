"""Vietnamese first, English second. Catalogs are Babel .po files, compiled in memory at start-up."""

from __future__ import annotations

import gettext as gettext_mod
import io
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = ("vi", "en")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


@lru_cache(maxsize=4)
def translations(locale: str) -> gettext_mod.NullTranslations:
    po = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == "en" or not po.exists():
        return gettext_mod.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=locale)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def pick_locale(cookie: str | None, accept_language: str | None, default: str) -> str:
    """Vietnamese first: the user's explicit choice (cookie), else the configured default. The browser's
    Accept-Language is not consulted — most phones and kiosks here are set to English."""
    if cookie in LOCALES:
        return cookie
    return default
