"""QR images: decode photos and screenshots (zxing-cpp), render codes (segno, error correction Q).

Decoding refuses, before any pixel is decompressed, files over 10 MB and images over 40 megapixels (the
header's size is read first), and accepts PNG, JPEG and WebP only. Rendering is cached per text; a server
renders a pass once when it is issued, never while answering a scan.
"""

from __future__ import annotations

import io
import struct
import warnings
from functools import lru_cache

import segno
import zxingcpp
from PIL import Image, UnidentifiedImageError

from dancu.credentials.results import CredentialFailure

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
ALLOWED_FORMATS = ("PNG", "JPEG", "WEBP")
# Pillow's own decompression-bomb guard, aligned with ours (it warns above this and refuses above twice it).
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


def _load_gray(data: bytes) -> Image.Image:
    if not data:
        raise CredentialFailure("format", "the image is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise CredentialFailure("format", f"the image is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the check below says more
            with Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise CredentialFailure(
                        "format",
                        f"the image is too large ({width}x{height}; at most "
                        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels)",
                    )
                return image.convert("L")
    except UnidentifiedImageError:
        raise CredentialFailure("format", "not an image (PNG, JPEG or WebP expected)") from None
    except Image.DecompressionBombError:
        raise CredentialFailure("format", "the image is too large to decode") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise CredentialFailure("format", f"the image cannot be decoded ({type(exc).__name__})") from None


def decode_qr_image(data: bytes) -> str:
    """The text of the first QR code in a PNG/JPEG/WebP image; failure code `format` otherwise."""
    gray = _load_gray(data)
    for binarizer in (zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram):
        found = zxingcpp.read_barcodes(
            gray,
            formats=_QR_ONLY,
            try_rotate=True,
            try_downscale=True,
            try_invert=True,
            binarizer=binarizer,
        )
        texts = [barcode.text for barcode in found if barcode.valid and barcode.text]
        if texts:
            return str(texts[0])
    raise CredentialFailure("format", "no readable QR code in the image")


def make_qr(text: str) -> segno.QRCode:
    return segno.make(text, error="q", micro=False, boost_error=False)


@lru_cache(maxsize=256)
def render_svg(text: str, scale: int = 4, border: int = 4) -> bytes:
    """SVG with a `border`-module quiet zone; cached per text."""
    out = io.BytesIO()
    make_qr(text).save(out, kind="svg", scale=scale, border=border, xmldecl=False)
    return out.getvalue()


@lru_cache(maxsize=256)
def render_png(text: str, scale: int = 4, border: int = 4) -> bytes:
    """PNG with a `border`-module quiet zone; cached per text."""
    out = io.BytesIO()
    make_qr(text).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()
