"""QR images: render (quiet zone, ECC Q, cache), decode photos, and refuse what is not a sane image."""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from PIL import Image, ImageFilter

from dancu.credentials import qrimage
from dancu.credentials.qrimage import decode_qr_image, make_qr, render_png, render_svg
from dancu.credentials.results import CredentialFailure

TEXT = "HC1:NCFOXN%TSMAHN-H6TK$UUE+DKBQ1A8 E4O:5QR9RYUYUI:VB12TXG4$.R0TF NI4EFSYS1-ST*QGTAAY7.Y7B-S-*O5W41FD1A3"


def _png(image: Image.Image, kind: str = "PNG", **options: int) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def _fake_png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims the given size; its pixel data is a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def _failure(data: bytes) -> str:
    with pytest.raises(CredentialFailure) as caught:
        decode_qr_image(data)
    assert caught.value.code == "format"
    return caught.value.detail


def test_png_round_trip_with_quiet_zone_and_ecc_q() -> None:
    qr = make_qr(TEXT)
    assert qr.error == "Q" and qr.mode == "alphanumeric"
    png = render_png(TEXT, 4)
    assert decode_qr_image(png) == TEXT
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.size == ((qr.symbol_size(scale=1, border=0)[0] + 8) * 4,) * 2
    border = [image.getpixel((x, y)) for x in range(image.width) for y in range(16)]
    assert set(border) == {255}  # 4 modules of 4 px, all light


def test_svg_has_the_quiet_zone() -> None:
    svg = render_svg(TEXT, 3).decode()
    modules = make_qr(TEXT).symbol_size(scale=1, border=0)[0]
    match = re.search(r'width="(\d+)"', svg)
    assert match and int(match.group(1)) == (modules + 8) * 3
    assert svg.lstrip().startswith("<svg")


def test_rendering_is_cached_per_text() -> None:
    first = render_svg(TEXT + "X")
    hits = render_svg.cache_info().hits
    assert render_svg(TEXT + "X") is first
    assert render_svg.cache_info().hits == hits + 1


@pytest.mark.parametrize("angle", [90, 180, 33])
def test_decodes_rotated_codes(angle: int) -> None:
    image = Image.open(io.BytesIO(render_png(TEXT, 5))).convert("L")
    rotated = image.rotate(angle, expand=True, fillcolor=255)
    assert decode_qr_image(_png(rotated)) == TEXT


def test_decodes_a_photographed_code() -> None:
    """Smaller, blurred, off-centre on a grey background, saved as a low-quality JPEG."""
    code = Image.open(io.BytesIO(render_png(TEXT, 6))).convert("L").rotate(8, expand=True, fillcolor=230)
    photo = Image.new("L", (code.width * 2, int(code.height * 1.6)), 200)
    photo.paste(code, (code.width // 3, code.height // 5))
    photo = photo.resize((photo.width * 2 // 3, photo.height * 2 // 3)).filter(ImageFilter.GaussianBlur(1.2))
    assert decode_qr_image(_png(photo.convert("RGB"), "JPEG", quality=55)) == TEXT


def test_real_vietnamese_certificate_image() -> None:
    from cred_helpers import SHARED

    text = decode_qr_image((SHARED / "testdata" / "dgc" / "VN_VAC.png").read_bytes())
    assert text.startswith("HC1:") and len(text) > 500


def test_refuses_a_50_megapixel_image_from_its_header() -> None:
    detail = _failure(_fake_png_header(10_000, 5_000))
    assert "too large" in detail and "10000x5000" in detail


def test_refuses_an_enormous_header_before_pillow_allocates() -> None:
    assert "too large" in _failure(_fake_png_header(200_000, 200_000))


def test_the_size_guard_is_what_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    png = render_png(TEXT, 4)
    assert decode_qr_image(png) == TEXT
    monkeypatch.setattr(qrimage, "MAX_IMAGE_PIXELS", 10_000)
    assert "too large" in _failure(png)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"hello, this is not an image", "not an image"),
        (b"%PDF-1.7\n%...", "not an image"),
        (b"GIF89a" + b"\0" * 64, "not an image"),  # not an accepted format
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 30, "not an image"),
        (b"x" * (qrimage.MAX_IMAGE_BYTES + 1), "larger than 10 MB"),
    ],
)
def test_non_images_are_a_format_failure(data: bytes, words: str) -> None:
    assert words in _failure(data)


def test_truncated_image() -> None:
    png = render_png(TEXT, 4)
    assert "cannot be decoded" in _failure(png[: len(png) // 2])


def test_image_without_a_code() -> None:
    assert "no readable QR code" in _failure(_png(Image.new("L", (200, 200), 255)))
