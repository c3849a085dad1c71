"""The synthetic population: valid, deterministic, realistic households, written through the bulk path."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import date

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from dancu.core.db import Database
from dancu.registry import names as N
from dancu.registry.idnumber import validate_id
from dancu.registry.models import Person
from dancu.registry.seed import REFERENCE_DATE, Commune, generate_people, seed_population
from dancu.registry.validation import PersonRow, RowValidator, as_import_row
from dancu.units.loader import read_units

COMMUNES: list[Commune] = [(str(u["code"]), str(u["name"]), str(u["parent_code"]))
                           for u in read_units() if u["level"] == "commune"]
PROVINCE_OF = {code: province for code, _, province in COMMUNES}


@pytest.fixture(scope="module")
def sample() -> list[PersonRow]:
    return list(generate_people(COMMUNES, 20_000, seed=2021))


def age(row: PersonRow) -> float:
    dob: date = row[4]
    return (REFERENCE_DATE - dob).days / 365.2425


def test_same_seed_same_people_and_a_longer_run_extends_a_shorter_one(sample: list[PersonRow]) -> None:
    assert list(generate_people(COMMUNES, 20_000, seed=2021)) == sample
    assert list(generate_people(COMMUNES, 500, seed=2021)) == sample[:500]
    other = list(generate_people(COMMUNES, 500, seed=2022))
    assert other != sample[:500] and len(other) == 500


def test_seeded_rows_pass_the_import_validator_unchanged(sample: list[PersonRow]) -> None:
    validator = RowValidator([c for c, _, _ in COMMUNES], today=date.today())
    for row in sample[::7]:
        assert validator.check(as_import_row(row)) == row


def test_ids_are_unique_and_agree_with_birth_data(sample: list[PersonRow]) -> None:
    assert len({r[0] for r in sample}) == len(sample)
    for row in sample[::11]:
        decoded = validate_id(row[0], dob=row[4], sex=row[5])
        assert decoded.province_code == row[6]


def test_households_are_consistent(sample: list[PersonRow]) -> None:
    households: dict[str, list[PersonRow]] = defaultdict(list)
    for row in sample:
        households[str(row[11])].append(row)
    sizes = Counter(len(members) for members in households.values())
    assert set(sizes) <= set(range(1, 8)) and sizes[4] > sizes[7] > 0
    for members in list(households.values())[:-1]:  # the last one may be cut short by n
        heads = [m for m in members if m[12] == N.HEAD]
        assert len(heads) == 1 and members[0] is heads[0]
        head = heads[0]
        assert len({(m[7], m[8]) for m in members}) == 1  # one permanent address
        for m in members:
            rel = m[12]
            if rel in (N.WIFE, N.HUSBAND):
                assert m[5] != head[5] and (m[5] == "F") == (rel == N.WIFE)
                assert age(m) >= 18
            elif rel == N.CHILD:
                assert all(age(p) - age(m) >= 15 for p in members if p[12] in (N.HEAD, N.WIFE, N.HUSBAND))
            elif rel in (N.FATHER, N.MOTHER):
                assert age(m) - age(head) >= 15 and m[5] == ("M" if rel == N.FATHER else "F")
            elif rel == N.GRANDCHILD:
                assert all(age(p) - age(m) >= 15 for p in members if p[12] in (
                    N.CHILD, N.DAUGHTER_IN_LAW, N.SON_IN_LAW))
        children = [m for m in members if m[12] in (N.CHILD, N.GRANDCHILD) and age(m) < 18]
        fathers = [m for m in members if m[12] in (N.HEAD, N.HUSBAND, N.CHILD, N.SON_IN_LAW) and m[5] == "M"]
        if children and len(fathers) == 1 and not any(m[12] == N.GRANDCHILD for m in members):
            assert all(c[2].split()[0] == fathers[0][2].split()[0] for c in children)  # father's family name


def test_the_population_looks_like_vietnam(sample: list[PersonRow]) -> None:
    n = len(sample)
    families = Counter(r[2].split()[0] for r in sample)
    assert 0.33 < families["Nguyễn"] / n < 0.44
    assert [f for f, _ in families.most_common(4)] == ["Nguyễn", "Trần", "Lê", "Phạm"]
    assert 0.85 < sum(r[7] == r[9] for r in sample) / n < 0.95  # ~90% live where they are registered
    ages = [age(r) for r in sample]
    assert 0.17 < sum(a < 15 for a in ages) / n < 0.32
    assert 0.05 < sum(a >= 65 for a in ages) / n < 0.14
    assert all(r[13] is None for r in sample if age(r) < 18)
    assert sum(r[13] is not None for r in sample if age(r) >= 18) > 0.85 * sum(a >= 18 for a in ages)
    by_province = Counter(PROVINCE_OF[r[7]] for r in sample)
    assert by_province.most_common(1)[0][0] == "79" and by_province["01"] > 4 * by_province["12"]
    middles = Counter(r[2].split()[1] for r in sample if r[5] == "F" and age(r) > 60)
    assert middles.most_common(1)[0][0] == "Thị"


@pytest_asyncio.fixture
async def db(fresh_db: str) -> AsyncIterator[Database]:
    database = Database(fresh_db)
    yield database
    await database.dispose()


async def test_seeding_writes_the_people_and_seeding_again_upserts_the_same_ids(db: Database) -> None:
    progress: list[int] = []
    assert await seed_population(db, 2_500, seed=7, progress=progress.append, batch_size=1_000) == 2_500
    assert progress == [1_000, 2_000, 2_500]
    async with db.unit_of_work() as s:
        first = set((await s.scalars(select(Person.national_id))).all())
    assert first == {r[0] for r in generate_people(COMMUNES, 2_500, seed=7)}
    assert await seed_population(db, 2_500, seed=7) == 2_500
    async with db.unit_of_work() as s:
        assert set((await s.scalars(select(Person.national_id))).all()) == first
        heads = await s.scalar(select(func.count()).where(Person.household_relation == N.HEAD))
        households = await s.scalar(select(func.count(func.distinct(Person.household_id))))
        assert heads is not None and households is not None and abs(heads - households) <= 1
