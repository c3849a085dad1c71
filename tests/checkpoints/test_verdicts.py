"""The verdict rules, as pure functions over a reading and the looked-up rows (no database, no server)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dancu.checkpoints.scanning import (
    GreenLaneRecord,
    Lookups,
    PassRecord,
    PersonRecord,
    as_already_scanned,
    assess,
    dedupe_key,
    read_code,
)
from dancu.credentials.keyfiles import init_keys
from dancu.credentials.keys import Keyring, load_keyring
from dancu.credentials.travel_pass import GreenLaneClaims, TravelPassClaims, issue_green_lane_pass, issue_travel_pass

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NID = "001191012345"
PASS_ID = "P1"
CARD = f"{NID}|012345678|Trần Thị Bình|02041991|Nữ|12 Phố Huế, Hà Nội|15042021"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    path: Path = tmp_path_factory.mktemp("verdict-keys") / "keys"
    init_keys(path, now=NOW - timedelta(days=10))
    return load_keyring(path)


@pytest.fixture(scope="module")
def other_keys(tmp_path_factory: pytest.TempPathFactory) -> Keyring:
    path: Path = tmp_path_factory.mktemp("foreign-keys") / "keys"
    init_keys(path, now=NOW - timedelta(days=10))
    return load_keyring(path)


def travel_pass(
    keys: Keyring, *, pass_id: str = PASS_ID, issued: datetime = NOW - timedelta(hours=1), hours: int = 72
) -> str:
    claims = TravelPassClaims.for_person(
        pass_id=pass_id,
        declaration_id="7",
        full_name="Trần Thị Bình",
        national_id=NID,
        birth_year=1991,
        origin="00004",
        destination="26734",
    )
    return issue_travel_pass(claims, keyring=keys, now=issued, hours=hours)


def record(
    *,
    status: str = "valid",
    expires_at: datetime = NOW + timedelta(hours=71),
    pass_id: str = PASS_ID,
    person_id: int = 5,
) -> PassRecord:
    return PassRecord(
        declaration_id=7,
        person_id=person_id,
        pass_id=pass_id,
        status=status,
        expires_at=expires_at,
        origin_unit_code="00004",
        destination_unit_code="26734",
        travel_date=date(2026, 3, 1),
        full_name="Trần Thị Bình",
        dob=date(1991, 4, 2),
        id_last4="2345",
        vehicle_plate="30A-12345",
    )


def green_record(**kw: object) -> GreenLaneRecord:
    values: dict[str, object] = dict(
        green_lane_pass_id=3,
        pass_id="GL1",
        plate="51C-12345",
        vehicle_active=True,
        test_taken_at=NOW - timedelta(hours=10),
        expires_at=NOW + timedelta(hours=60),
        revoked=False,
        driver_person_id=9,
        full_name="Lê Văn Tài",
        dob=date(1980, 1, 1),
        national_id="001080000123",
        origin_unit_code="00004",
        destination_unit_code="26734",
    )
    values.update(kw)
    return GreenLaneRecord(**values)  # type: ignore[arg-type]


def test_valid_travel_pass_is_green_with_what_to_compare(keys: Keyring) -> None:
    reading = read_code(travel_pass(keys), keyring=keys, now=NOW)
    assert reading.kind == "travel_pass" and reading.pass_id == "P1"
    a = assess(reading, Lookups(passes={"P1": record()}), NOW)
    assert (a.verdict, a.reason) == ("green", "valid")
    assert a.holder is not None
    assert (a.holder.full_name, a.holder.dob, a.holder.id_last4) == ("Trần Thị Bình", date(1991, 4, 2), "2345")
    assert (a.origin_unit_code, a.destination_unit_code, a.vehicle_plate) == ("00004", "26734", "30A-12345")
    assert a.valid_until == NOW + timedelta(hours=71)
    assert a.person_id == 5 and a.declaration_id == 7 and a.suggested_refusal is None


def test_scanner_line_endings_do_not_matter(keys: Keyring) -> None:
    reading = read_code(travel_pass(keys) + "\r\n", keyring=keys, now=NOW)
    assert reading.signed_ok and reading.pass_id == "P1"


def test_revoked_declaration_is_red(keys: Keyring) -> None:
    a = assess(
        read_code(travel_pass(keys), keyring=keys, now=NOW), Lookups(passes={"P1": record(status="revoked")}), NOW
    )
    assert (a.verdict, a.reason, a.suggested_refusal) == ("red", "revoked", "revoked")
    assert "revoked" in a.message


def test_expired_by_the_signature_is_red_and_says_so(keys: Keyring) -> None:
    code = travel_pass(keys, issued=NOW - timedelta(hours=80), hours=72)
    a = assess(read_code(code, keyring=keys, now=NOW), Lookups(passes={"P1": record()}), NOW)
    assert (a.verdict, a.reason, a.suggested_refusal) == ("red", "expired", "expired")
    assert a.message == "The pass has expired"


def test_expired_in_the_database_is_red_even_if_the_signature_is_still_valid(keys: Keyring) -> None:
    lookups = Lookups(passes={"P1": record(expires_at=NOW - timedelta(minutes=1))})
    a = assess(read_code(travel_pass(keys), keyring=keys, now=NOW), lookups, NOW)
    assert (a.verdict, a.reason) == ("red", "expired")


def test_tampered_pass_is_red(keys: Keyring) -> None:
    code = travel_pass(keys)
    # Change one Base45 character in the middle: either the signature or the decoding fails, never green.
    i = len(code) // 2
    tampered = code[:i] + ("A" if code[i] != "A" else "B") + code[i + 1 :]
    a = assess(read_code(tampered, keyring=keys, now=NOW), Lookups(passes={"P1": record()}), NOW)
    assert a.verdict == "red"
    assert a.reason in ("tampered", "damaged")


def test_signature_of_an_altered_payload_does_not_match(keys: Keyring) -> None:
    from dancu.credentials.container import strip_prefix, unwrap, wrap

    code = travel_pass(keys)
    raw = bytearray(unwrap(strip_prefix(code, "VNT1:")))
    raw[-1] ^= 0x01  # flip a bit of the signature itself
    a = assess(read_code(wrap("VNT1:", bytes(raw)), keyring=keys, now=NOW), Lookups(passes={"P1": record()}), NOW)
    assert (a.verdict, a.reason) == ("red", "tampered")


def test_pass_signed_by_an_unknown_key_is_red_foreign(keys: Keyring, other_keys: Keyring) -> None:
    a = assess(read_code(travel_pass(other_keys), keyring=keys, now=NOW), Lookups(passes={"P1": record()}), NOW)
    assert (a.verdict, a.reason) == ("red", "foreign")


def test_signed_pass_unknown_to_the_database_is_red(keys: Keyring) -> None:
    a = assess(read_code(travel_pass(keys), keyring=keys, now=NOW), Lookups(), NOW)
    assert (a.verdict, a.reason, a.suggested_refusal) == ("red", "unknown_pass", "no_pass")


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDEXWK G2EP4J0B", "hc1"),
        ("https://example.com/menu", "unrecognised"),
        ("VNK1:ABC", "unrecognised"),
        ("   ", "unrecognised"),
    ],
)
def test_foreign_and_unrecognised_codes_are_red(keys: Keyring, code: str, reason: str) -> None:
    a = assess(read_code(code, keyring=keys, now=NOW), Lookups(), NOW)
    assert (a.verdict, a.reason) == ("red", reason)
    assert a.holder is None


def test_chip_card_without_declaration_is_amber_with_the_card_holder(keys: Keyring) -> None:
    reading = read_code(CARD, keyring=keys, now=NOW)
    assert reading.kind == "cccd" and reading.national_id == NID
    person = PersonRecord(5, "Trần Thị Bình", date(1991, 4, 2), NID, None)
    a = assess(reading, Lookups(persons={NID: person}), NOW)
    assert (a.verdict, a.reason, a.suggested_refusal) == ("amber", "no_declaration", "no_pass")
    assert a.holder is not None and a.holder.full_name == "Trần Thị Bình" and a.holder.id_last4 == "2345"


def test_chip_card_with_a_valid_declaration_today_is_green_with_its_route(keys: Keyring) -> None:
    person = PersonRecord(5, "Trần Thị Bình", date(1991, 4, 2), NID, record())
    a = assess(read_code(CARD, keyring=keys, now=NOW), Lookups(persons={NID: person}), NOW)
    assert (a.verdict, a.reason, a.kind) == ("green", "declaration_today", "cccd")
    assert (a.origin_unit_code, a.destination_unit_code, a.pass_id) == ("00004", "26734", "P1")


def test_chip_card_not_matching_the_register_is_red(keys: Keyring) -> None:
    person = PersonRecord(5, "Trần Thị Bình", date(1992, 4, 2), NID, record())
    a = assess(read_code(CARD, keyring=keys, now=NOW), Lookups(persons={NID: person}), NOW)
    assert (a.verdict, a.reason, a.suggested_refusal) == ("red", "card_mismatch", "identity_mismatch")


def test_chip_card_not_in_register_is_amber_showing_the_card(keys: Keyring) -> None:
    a = assess(read_code(CARD, keyring=keys, now=NOW), Lookups(), NOW)
    assert (a.verdict, a.reason) == ("amber", "not_in_register")
    assert a.holder is not None and a.holder.dob == date(1991, 4, 2)


def test_typed_id_number(keys: Keyring) -> None:
    reading = read_code(f" {NID} ", keyring=keys, now=NOW)
    assert reading.kind == "manual" and reading.national_id == NID
    person = PersonRecord(5, "Trần Thị Bình", date(1991, 4, 2), NID, record())
    assert assess(reading, Lookups(persons={NID: person}), NOW).verdict == "green"
    revoked = PersonRecord(5, "Trần Thị Bình", date(1991, 4, 2), NID, record(status="revoked"))
    assert assess(reading, Lookups(persons={NID: revoked}), NOW).reason == "no_declaration"
    bad = assess(read_code("999999999999", keyring=keys, now=NOW), Lookups(), NOW)
    assert (bad.verdict, bad.reason) == ("red", "invalid_id")


def green_lane_code(keys: Keyring, *, issued: datetime = NOW - timedelta(hours=1)) -> str:
    claims = GreenLaneClaims(
        pass_id="GL1",
        vehicle_plate="51C-12345",
        driver_name="LE V. TAI",
        driver_id_last4="0123",
        origin="00004",
        destination="26734",
    )
    return issue_green_lane_pass(claims, keyring=keys, now=issued, hours=60)


def test_green_lane_pass_is_green_do_not_stop(keys: Keyring) -> None:
    a = assess(read_code(green_lane_code(keys), keyring=keys, now=NOW), Lookups(green={"GL1": green_record()}), NOW)
    assert (a.verdict, a.reason, a.green_lane) == ("green", "green_lane", True)
    assert a.message == "Green lane — do not stop"
    assert a.vehicle_plate == "51C-12345" and a.person_id == 9
    assert a.valid_until == NOW + timedelta(hours=60)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"revoked": True}, "revoked"),
        ({"vehicle_active": False}, "vehicle_inactive"),
        ({"expires_at": NOW - timedelta(seconds=1)}, "expired"),
        ({"test_taken_at": NOW - timedelta(hours=72, seconds=1)}, "test_too_old"),
    ],
)
def test_green_lane_pass_that_no_longer_holds_is_red(keys: Keyring, change: dict[str, object], reason: str) -> None:
    lookups = Lookups(green={"GL1": green_record(**change)})
    a = assess(read_code(green_lane_code(keys), keyring=keys, now=NOW), lookups, NOW)
    assert (a.verdict, a.reason) == ("red", reason)


def test_already_scanned_warns_but_keeps_red_red(keys: Keyring) -> None:
    green = assess(read_code(travel_pass(keys), keyring=keys, now=NOW), Lookups(passes={"P1": record()}), NOW)
    warned = as_already_scanned(green)
    assert (warned.verdict, warned.reason, warned.already_scanned) == ("amber", "already_scanned", True)
    assert warned.holder == green.holder
    red = assess(read_code("nonsense", keyring=keys, now=NOW), Lookups(), NOW)
    assert as_already_scanned(red) == red
    assert dedupe_key(green) == ("pass", "P1") and dedupe_key(red) is None
