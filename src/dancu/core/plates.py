"""Vietnamese vehicle registration plates.

A plate is a 2-digit locality code (11–99), a series (one or two letters, or a letter and a digit for
motorbikes), then 4 or 5 serial digits; people write it with spaces, dashes and dots in many ways
("30A-123.45", "51F 12345", "29-B1 234.56"). We store the canonical form "30A-12345".
"""

from __future__ import annotations

import re

from dancu.core.errors import ValidationFailed

_PLATE = re.compile(r"^(\d{2})([A-Z]{1,2}|[A-Z]\d)(\d{4,5})$")
_SEPARATORS = str.maketrans("", "", " -.·_")


class InvalidPlate(ValidationFailed):
    code = "invalid_plate"


def normalize_plate(raw: str, *, field: str = "vehicle_plate") -> str:
    """Canonical plate ("30A-12345"), or InvalidPlate naming the problem."""
    text = (raw or "").strip().upper().translate(_SEPARATORS)
    if not text:
        raise InvalidPlate("The plate number is empty.", field=field)
    match = _PLATE.match(text)
    if match is None:
        raise InvalidPlate(
            "{plate} is not a Vietnamese plate (expected e.g. 30A-123.45 or 29B1-234.56).",
            field=field,
            params={"plate": raw.strip()[:20]},
        )
    locality = int(match.group(1))
    if locality < 11:
        raise InvalidPlate("{plate}: the locality code must be 11–99.", field=field, params={"plate": raw.strip()[:20]})
    return f"{match.group(1)}{match.group(2)}-{match.group(3)}"
