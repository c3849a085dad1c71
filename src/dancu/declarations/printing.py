"""The printable pass as a PDF (one A4 page per pass), for travellers without a smartphone.

The QR is rendered server-side by segno through `dancu.credentials.render_png`, which caches per text, so
printing a pass again costs no new rendering. Text uses DejaVu Sans (Vietnamese glyphs) when the system has
it, otherwise a core PDF font with the text folded to ASCII. The page carries the least data: the name, the
last 4 digits of the ID number, origin and destination, and the validity.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from dancu.core.text import fold
from dancu.credentials.qrimage import render_png
from dancu.declarations.schemas import DeclarationOut

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEJAVU_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
QR_MM = 120.0
QR_SCALE = 8  # pixels per module of the embedded PNG; the page scales it to QR_MM


class _Page:
    def __init__(self, font: Path | None) -> None:
        self.pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(20, 20, 20)
        self.unicode = font is not None and font.is_file()
        if self.unicode and font is not None:
            self.pdf.add_font("DejaVu", "", str(font))
            bold = font.with_name(DEJAVU_BOLD.name) if font == DEJAVU else font
            self.pdf.add_font("DejaVu", "B", str(bold if bold.is_file() else font))
            self.family = "DejaVu"
        else:
            self.family = "Helvetica"

    def text(self, value: str) -> str:
        if self.unicode:
            return value
        ascii_text = fold(value).upper() if value.isupper() else _ascii(value)
        return ascii_text.encode("latin-1", "replace").decode("latin-1")

    def line(self, value: str, size: float, *, bold: bool = False, height: float = 9.0) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.multi_cell(0, height, self.text(value), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _ascii(value: str) -> str:
    # Keep the case: fold() lowers it, so fold word by word and restore capitals.
    out = []
    for word in value.replace("→", "->").split(" "):
        folded = fold(word)
        out.append(folded.capitalize() if word[:1].isupper() else folded)
    return " ".join(out)


def _masked_id(last4: str) -> str:
    return "•••• •••• " + last4


def pass_pdf(passes: Sequence[DeclarationOut], gettext: Callable[[str], str] = str, *,
             font: Path | None = DEJAVU) -> bytes:
    """One A4 page per pass: title, large QR, name, masked ID, route and validity."""
    _ = gettext
    page = _Page(font)
    pdf = page.pdf
    for p in passes:
        pdf.add_page()
        page.line(_("Domestic travel pass"), 22, bold=True, height=11)
        page.line(_("Show this page and your ID card at checkpoints."), 11, height=6)
        pdf.ln(4)
        if p.status == "valid" and p.pass_code:
            png = render_png(p.pass_code, scale=QR_SCALE, border=4)
            pdf.image(io.BytesIO(png), x=(pdf.w - QR_MM) / 2, y=pdf.get_y(), w=QR_MM, h=QR_MM)
            pdf.set_y(pdf.get_y() + QR_MM + 4)
        else:
            pdf.ln(30)
            state = _("This pass is revoked.") if p.status == "revoked" else _("This pass has expired.")
            page.line(state, 26, bold=True, height=14)
            pdf.ln(30)
        page.line(p.full_name, 20, bold=True, height=10)
        masked = _masked_id(p.id_last4) if page.unicode else "**** **** " + p.id_last4
        page.line(f"{_('ID number')}: {masked}", 13, height=8)
        page.line(f"{p.origin_name} → {p.destination_name}", 13, height=7)
        page.line(f"{_('Travel date')}: {p.travel_date.strftime('%d/%m/%Y')}", 13, height=8)
        until = p.expires_at.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")
        page.line(f"{_('Valid until')}: {until}", 15, bold=True, height=9)
        pdf.ln(2)
        page.line(f"{_('Pass')} {p.pass_id} · {_('Declaration')} {p.id}", 9, height=5)
    return bytes(pdf.output())
