"""Vietnamese first: every string the pages show has a Vietnamese translation in the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from dancu.core.i18n import LOCALE_DIR, translations

if TYPE_CHECKING:
    import httpx

ROOT = Path(__file__).resolve().parents[1]
# Domain errors are raised with an English template and translated when a page renders them.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}


def _template_msgids() -> set[str]:
    found = extract_from_dir(
        str(ROOT / "src" / "dancu" / "templates"),
        method_map=[("**.html", "jinja2")],
        keywords=KEYWORDS,
    )
    ids: set[str] = set()
    for _filename, _lineno, message, _comments, _context in found:
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_page_string_has_a_vietnamese_translation() -> None:
    with (LOCALE_DIR / "vi" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="vi")
    translated = {(m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id and m.string}
    missing = sorted(_template_msgids() - translated)
    assert not missing, f"{len(missing)} page strings lack a Vietnamese translation: {missing[:20]}"


def test_vietnamese_is_served_by_default() -> None:
    assert translations("vi").gettext("Log in") == "Đăng nhập"
    assert translations("en").gettext("Log in") == "Log in"


async def test_pages_are_vietnamese_unless_english_is_chosen(client: httpx.AsyncClient) -> None:
    client.cookies.clear()
    vi = await client.get("/login")
    assert "Đăng nhập" in vi.text and '<html lang="vi">' in vi.text
    en = await client.get("/login", cookies={"lang": "en"})
    assert '<html lang="en">' in en.text and "Log in" in en.text
    switched = await client.post("/lang", data={"lang": "en", "next": "/login"})
    assert switched.status_code == 303 and "lang=en" in switched.headers["set-cookie"]
