"""Bulk import of paper forms: rejected rows to a fixable error file, duplicates reported, XLSX, pages."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.config import Settings
from dancu.core.errors import DomainError
from dancu.credentials.keys import Keyring
from dancu.declarations import paper_import
from dancu.declarations.models import Declaration
from dancu.declarations.paper_import import COLUMNS, import_paper_forms, row_to_input
from dancu.declarations.service import local_today
from dancu.registry.models import Person
from tests.declarations.helpers import actor, csrf_of
from tests.factories import HANOI, HANOI_COMMUNE, HANOI_COMMUNE_2, login, make_account, make_person


def _row(person: Person, **kw: str) -> dict[str, str]:
    row = {
        "national_id": person.national_id, "full_name": person.full_name,
        "dob": person.dob.strftime("%d/%m/%Y"), "phone": "", "origin_unit": HANOI_COMMUNE,
        "origin_address": "12 Phố Huế", "destination_unit": HANOI_COMMUNE_2, "destination_address": "1 Đội Cấn",
        "travel_date": local_today().strftime("%d/%m/%Y"), "return_date": "", "transport": "xe máy",
        "vehicle_plate": "29B1-234.56", "transport_detail": "", "purpose": "Đi làm", "places_visited": "",
        "symptoms": "", "exposures": "", "attested": "x",
    }
    row.update(kw)
    return row


def _csv(rows: list[dict[str, str]], header: tuple[str, ...] = COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def test_import_rejects_fixably_and_never_duplicates(session: AsyncSession, settings: Settings,
                                                           keyring: Keyring) -> None:
    a = await make_person(session, full_name="Nguyễn Văn Một")
    b = await make_person(session, full_name="Trần Thị Hai", sex="F", dob=date(1980, 1, 2))
    c = await make_person(session, full_name="Lê Văn Ba", dob=date(1960, 3, 4))
    officer = await actor(session, Role.CHECKPOINT_OFFICER, HANOI)
    tomorrow = (local_today() + timedelta(days=1)).isoformat()
    rows = [
        _row(a, symptoms="fever; cough", exposures="contact_with_case"),
        _row(b, dob="02/01/1981"),  # wrong date of birth
        _row(c, destination_unit=HANOI_COMMUNE, attested=""),  # two problems
        _row(c, transport="máy bay", vehicle_plate="", travel_date=tomorrow),  # a plane needs the flight number
        _row(a),  # the same trip as row 2: a duplicate
    ]
    first = await import_paper_forms(session, officer, settings, "forms.csv", _csv(rows), keyring=keyring)
    assert (first.read, first.imported, first.duplicates, first.rejected) == (5, 1, 1, 3)
    assert first.duplicate_ids == first.declaration_ids
    imported = await session.get(Declaration, first.declaration_ids[0])
    assert imported is not None and imported.symptoms == ["fever", "cough"] and imported.source == "paper"
    assert imported.exposures == ["contact_with_case"] and imported.entered_by_id == officer.account_id
    errors_path = paper_import.error_file(officer, settings, first.token)
    raw = errors_path.read_bytes()
    assert raw.startswith("\ufeff".encode())
    error_rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert list(error_rows[0]) == [*COLUMNS, "error"]
    assert [r["national_id"] for r in error_rows] == [b.national_id, c.national_id, c.national_id]
    assert error_rows[0]["error"].startswith("row 3: dob:")
    assert "destination_unit_code" in error_rows[1]["error"] and "attested" in error_rows[1]["error"]
    assert "transport_detail" in error_rows[2]["error"]
    # Fix the error file and import it as it is (its `error` column is ignored).
    error_rows[0]["dob"] = "02/01/1980"
    error_rows[1].update(destination_unit=HANOI_COMMUNE_2, attested="có")
    error_rows[2]["transport_detail"] = "VN 215"
    fixed = await import_paper_forms(session, officer, settings, "forms.errors.csv",
                                     _csv(error_rows, (*COLUMNS, "error")), keyring=keyring)
    assert (fixed.imported, fixed.rejected, fixed.duplicates) == (3, 0, 0) and not fixed.has_error_file
    # The original file again: nothing new, everything reported.
    again = await import_paper_forms(session, officer, settings, "forms.csv", _csv(rows[:1]), keyring=keyring)
    assert (again.imported, again.duplicates) == (0, 1)
    count = await session.scalar(select(func.count()).select_from(Declaration)
                                 .where(Declaration.entered_by_id == officer.account_id))
    assert count == 4
    with pytest.raises(DomainError):
        paper_import.error_file(await actor(session, Role.CHECKPOINT_OFFICER, HANOI), settings, first.token)


async def test_xlsx_keeps_leading_zeros_and_bad_files_are_refused(session: AsyncSession, settings: Settings,
                                                                  keyring: Keyring) -> None:
    person = await make_person(session, full_name="Phan Văn Số")
    officer = await actor(session, Role.CHECKPOINT_OFFICER, HANOI)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(list(COLUMNS))
    row = _row(person)
    values: list[object] = [row[c] for c in COLUMNS]
    values[COLUMNS.index("national_id")] = int(person.national_id)  # Excel dropped the leading zeros
    values[COLUMNS.index("origin_unit")] = 4
    values[COLUMNS.index("travel_date")] = local_today()
    ws.append(values)
    buf = io.BytesIO()
    wb.save(buf)
    result = await import_paper_forms(session, officer, settings, "forms.xlsx", buf.getvalue(), keyring=keyring)
    assert (result.imported, result.rejected) == (1, 0)
    for name, data, fragment in [
        ("forms.csv", b"national_id,full_name\n1,2\n", "missing"),
        ("forms.csv", b"", "empty"),
        ("forms.csv", "national_id;tên\n".encode("utf-16"), "UTF-8"),
        ("forms.xlsx", b"not a zip", "xlsx"),
        ("forms.txt", b"a,b", ".csv or .xlsx"),
    ]:
        with pytest.raises(DomainError) as err:
            await import_paper_forms(session, officer, settings, name, data, keyring=keyring)
        assert fragment in err.value.message and err.value.status_code in (413, 422), err.value.message
    citizen = await actor(session, Role.CITIZEN, HANOI_COMMUNE, person)
    with pytest.raises(DomainError) as denied:
        await import_paper_forms(session, citizen, settings, "forms.csv", _csv([row]), keyring=keyring)
    assert denied.value.status_code == 403


def test_row_reading() -> None:
    someone = Person(national_id="001090123456", full_name="A B", dob=date(1990, 5, 17))
    good = row_to_input(_row(someone, transport="Tàu hỏa",
                             transport_detail="SE1", return_date="", symptoms="fever|sore_throat"))
    assert not isinstance(good, list)
    assert good.transport == "train" and good.symptoms == ["fever", "sore_throat"] and good.attested
    bad = row_to_input({"national_id": "1", "dob": "31/02/1990", "travel_date": "", "transport": "bus"})
    assert isinstance(bad, list) and any("dob" in e for e in bad) and any("travel_date" in e for e in bad)


async def test_import_pages(client: httpx.AsyncClient, session: AsyncSession) -> None:
    person = await make_person(session, full_name="Đinh Thị <i>Mai</i>", sex="F")
    bad = await make_person(session, full_name="Hà Văn Sai")
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI)
    await login(client, officer.username)
    page = await client.get("/declarations/paper/import")
    assert page.status_code == 200 and ",".join(COLUMNS) in page.text
    template = await client.get("/declarations/paper/template.csv")
    assert template.content.startswith("\ufeff".encode()) and template.text.lstrip("\ufeff").startswith(
        ",".join(COLUMNS))
    files = {"file": ("forms.csv", _csv([_row(person), _row(bad, full_name="Hà Văn Đúng")]), "text/csv")}
    r = await client.post("/declarations/paper/import", files=files, data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    result = await client.get(r.headers["location"])
    assert 'id="rows-imported">1<' in result.text and 'id="rows-rejected">1<' in result.text
    assert "Đinh Thị &lt;i&gt;Mai&lt;/i&gt;" in result.text
    errors = await client.get(r.headers["location"] + "/errors.csv")
    assert errors.status_code == 200 and "Hà Văn Đúng" in errors.text
    printed = await client.get(r.headers["location"] + "/print")
    assert printed.text.count('class="print-page"') == 1
    api = await client.post("/api/v1/declarations/paper-import", files=files,
                            headers={"X-CSRF-Token": csrf_of(page.text)})
    assert api.status_code == 200, api.text
    body = api.json()
    assert (body["imported"], body["duplicates"], body["rejected"]) == (0, 1, 1)
    assert body["error_file"].endswith("/errors.csv")
    assert (await client.get(body["error_file"])).status_code == 200
    wrong = await client.post("/declarations/paper/import", files={"file": ("x.csv", b"a,b\n", "text/csv")},
                              data={"csrf_token": csrf_of(page.text)})
    assert wrong.status_code == 422 and "missing" in wrong.text


async def test_a_file_refused_part_way_imports_nothing(client: httpx.AsyncClient, session: AsyncSession,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    people = [await make_person(session, full_name=f"Người Thứ {n}") for n in ("Nhất", "Hai", "Ba")]
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI)
    await login(client, officer.username)
    page = await client.get("/declarations/paper/import")
    monkeypatch.setattr(paper_import, "MAX_ROWS", 2)
    files = {"file": ("forms.csv", _csv([_row(p) for p in people]), "text/csv")}
    r = await client.post("/declarations/paper/import", files=files, data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and "more than 2 rows" in r.text
    count = await session.scalar(select(func.count()).select_from(Declaration)
                                 .where(Declaration.person_id.in_([p.id for p in people])))
    assert count == 0
