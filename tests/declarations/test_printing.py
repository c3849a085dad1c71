"""The PDF pass: one A4 page per pass with the QR image; Vietnamese text with DejaVu, folded ASCII without."""

from __future__ import annotations

import io
import re
import zlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import zxingcpp
from PIL import Image

from dancu.declarations.printing import DEJAVU, pass_pdf
from dancu.declarations.schemas import DeclarationOut

CODE = "VNT1:6BFOXN*TS0BI$ZD-PHQ7I9AD66V5B22CH9M9ESI9XBHXK-%69LQOGI.*V76GCV4*XUA2P-FHT-HNTI4L6N$Q%UG/YL"


def _pass(n: int, status: str = "valid") -> DeclarationOut:
    now = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    return DeclarationOut(
        id=n, person_id=1, full_name="Nguyễn Thị Hồng Nhung", id_last4="4321", source="paper",
        origin_unit_code="00004", origin_name="Phường Ba Đình, Thành phố Hà Nội", destination_unit_code="25747",
        destination_name="Phường Thủ Dầu Một, Thành phố Hồ Chí Minh", travel_date=date(2026, 3, 1),
        transport="coach", status=status, expires_at=now + timedelta(hours=72),
        created_at=now, dob=date(1985, 3, 2), phone=None, origin_address="1", destination_address="2",
        return_date=None, vehicle_plate=None, transport_detail="12", purpose="x", places_visited=None,
        symptoms=[], exposures=[], pass_id=f"pass{n:012d}", pass_code=CODE + str(n), issued_at=now,
        revoked_at=None, revoke_reason=None, declared_by_id=None, entered_by_id=1,
    )


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


def _text(pdf: bytes) -> bytes:
    out = b""
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            out += zlib.decompress(stream)
        except zlib.error:
            out += stream
    return out


def test_one_page_per_pass_with_the_qr() -> None:
    pdf = pass_pdf([_pass(1), _pass(2), _pass(3, "revoked")])
    assert pdf.startswith(b"%PDF") and _pages(pdf) == 3
    assert len(re.findall(rb"/Subtype /Image", pdf)) == 2  # no QR on the revoked pass
    if Path(DEJAVU).is_file():
        assert b"DejaVu" in pdf


def test_without_a_unicode_font_the_text_is_folded(tmp_path: Path) -> None:
    pdf = pass_pdf([_pass(7)], font=tmp_path / "missing.ttf")
    text = _text(pdf)
    assert _pages(pdf) == 1 and b"Helvetica" in pdf
    assert b"Nguyen Thi Hong Nhung" in text and b"**** **** 4321" in text and b"Phuong Ba Dinh" in text


def test_the_printed_qr_is_the_pass_code() -> None:
    """The embedded image is the segno rendering of this pass (ECC Q, 4-module quiet zone), which decodes."""
    from dancu.credentials.qrimage import make_qr, render_png

    code = CODE + "9"
    png = render_png(code, scale=8, border=4)
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert [b.text for b in found] == [code]
    width, _height = make_qr(code).symbol_size(scale=8, border=4)
    pdf = pass_pdf([_pass(9)])
    assert re.search(rb"/Subtype /Image\s*/Type /XObject\s*/Width %d\b" % width, pdf)
