"""The Base45 codec against RFC 9285's examples, a plain reference implementation, and bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dancu.credentials import base45

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def reference_decode(text: str) -> bytes:
    """RFC 9285 section 4.2, written the obvious way."""
    values = [ALPHABET.index(c) for c in text]
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            assert n <= 0xFFFF
            out += n.to_bytes(2, "big")
        else:
            assert len(chunk) == 2
            n = chunk[0] + chunk[1] * 45
            assert n <= 0xFF
            out.append(n)
    return bytes(out)


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        (b"AB", "BB8"),
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),
        (b"", ""),
    ],
)
def test_rfc9285_examples(raw: bytes, encoded: str) -> None:
    assert base45.encode(raw) == encoded
    assert base45.decode(encoded) == raw


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=600))
def test_round_trip_and_agreement_with_reference(data: bytes) -> None:
    text = base45.encode(data)
    assert set(text) <= set(ALPHABET)
    assert base45.decode(text) == data
    assert reference_decode(text) == data


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("GGW", "above 0xFFFF"),  # 16 + 16*45 + 32*2025 = 65,536
        (":::", "above 0xFFFF"),
        ("BB8:::", "group 1"),
        ("::", "above 0xFF"),  # 44 + 44*45 = 2,024
        ("A", "length 1"),
        ("BB8A", "length 4"),
        ("bb8", "not in the Base45 alphabet"),
        ("BB8#", "position 3"),
        ("BB\n", "not in the Base45 alphabet"),
        ("BBé", "outside the Base45 alphabet"),
    ],
)
def test_invalid_input_is_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(base45.Base45Error, match=message):
        base45.decode(text)


def test_largest_valid_values_decode() -> None:
    assert base45.decode("FGW") == b"\xff\xff"  # 15 + 16*45 + 32*2025 = 65,535
    assert base45.decode("U5") == b"\xff"  # 30 + 5*45 = 255
