"""The text container shared by HC1 certificates and dancu passes: PREFIX + Base45(zlib(COSE))."""

from __future__ import annotations

import zlib

from dancu.credentials import base45
from dancu.credentials.results import CredentialFailure

MAX_DECOMPRESSED = 64 * 1024


def wrap(prefix: str, cose: bytes) -> str:
    return prefix + base45.encode(zlib.compress(cose, 9))


def strip_prefix(text: str, prefix: str) -> str:
    """The Base45 body after `prefix`; failure code `prefix` when the text does not start with it."""
    if not text.startswith(prefix):
        head = text.split(":", 1)[0][:8] + ":" if ":" in text[:9] else "no prefix"
        raise CredentialFailure("prefix", f"expected the prefix {prefix!r}, found {head!r}")
    return text[len(prefix) :]


def inflate(data: bytes, limit: int = MAX_DECOMPRESSED) -> bytes:
    """zlib-decompress at most `limit` bytes (a zlib bomb stops there); failure code `zlib`."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise CredentialFailure("zlib", f"not valid zlib data ({exc})") from None
    if inflater.unconsumed_tail:
        raise CredentialFailure("zlib", f"decompresses to more than {limit // 1024} KiB: refused")
    if not inflater.eof:
        raise CredentialFailure("zlib", "the compressed data is truncated")
    return out


def unwrap(body: str) -> bytes:
    """Base45-decode and inflate a body. A scanner may add trailing spaces, which are also Base45
    digits: if the exact text fails, the text without them is tried before giving up."""
    try:
        return _unwrap(body)
    except CredentialFailure as first:
        trimmed = body.rstrip(" ")
        if trimmed != body:
            try:
                return _unwrap(trimmed)
            except CredentialFailure:
                pass
        raise first


def _unwrap(body: str) -> bytes:
    try:
        compressed = base45.decode(body)
    except base45.Base45Error as exc:
        raise CredentialFailure("base45", f"not valid Base45: {exc}") from None
    return inflate(compressed)
