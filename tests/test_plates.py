import pytest

from dancu.core.plates import InvalidPlate, normalize_plate


@pytest.mark.parametrize(("raw", "canonical"), [("30A-123.45", "30A-12345"), ("51f 1234", "51F-1234"),
                                                ("29-B1 234.56", "29B1-23456"), ("15LD-012.34", "15LD-01234")])
def test_plates_normalise(raw: str, canonical: str) -> None:
    assert normalize_plate(raw) == canonical


@pytest.mark.parametrize("raw", ["", "ABC-123", "30A-123", "30A-1234567", "05A-12345", "30AAA-12345", "BKS 30A"])
def test_non_vietnamese_plates_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidPlate):
        normalize_plate(raw)
