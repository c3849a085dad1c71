"""A synthetic population for demos and load tests: households of realistic, valid, deterministic people.

People come in households of 1 to 7 sharing an address (head, spouse, children, the head's parents, or an
adult child with a spouse and grandchildren) with consistent ages; they live in real communes in proportion
to each province's population; their ID numbers agree with date of birth, sex and birth province (mostly a
pre-2025 province of the one they live in). The same seed and units always give the same people, so seeding
twice upserts the same IDs. Rows are valid by construction and go straight to the importer's bulk writer.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Generic, TypeVar

from sqlalchemy import select

from dancu.core.db import Database
from dancu.registry import names as N
from dancu.registry.idnumber import Sex, encode_id
from dancu.registry.importer import Batch, WriteCounts, pump
from dancu.registry.validation import PersonRow, fold_name
from dancu.units.id_provinces import ID_PROVINCES
from dancu.units.models import Unit

T = TypeVar("T")
Commune = tuple[str, str, str]  # (code, name, province code)

REFERENCE_DATE = date(2025, 7, 1)  # ages are counted at this date, so a seed gives the same people any day
_REF_ORD = REFERENCE_DATE.toordinal()
_SERIAL_STRIDE = 7919  # prime, coprime with 10**6: serials k * stride + offset are distinct for k < 10**6
# Share of households heads by age band (young adults rarely head a household).
_HEADSHIP = {20: 0.1, 25: 0.35, 30: 0.6, 35: 0.75}


class _Pick(Generic[T]):
    """Weighted choice by bisecting cumulative weights (faster than random.choices for one draw)."""

    def __init__(self, items: Sequence[tuple[T, float]]) -> None:
        self.items = [item for item, _ in items]
        self.cum = list(itertools.accumulate(w for _, w in items))
        self.last = len(self.items) - 1

    def __call__(self, rnd: random.Random) -> T:
        return self.items[min(bisect(self.cum, rnd.random() * self.cum[-1]), self.last)]


def _region(birth_code: str) -> str:
    n = int(birth_code)
    return "north" if n <= 42 else "centre" if n <= 68 else "south"


def _traditional_share(sex: Sex, year: int) -> float:
    """How often the middle name is Văn (men) or Thị (women) for people born in `year`."""
    shares = (0.6, 0.45, 0.25, 0.1) if sex == "M" else (0.75, 0.55, 0.3, 0.08)
    return shares[0 if year < 1970 else 1 if year < 1990 else 2 if year < 2005 else 3]


class _Population:
    def __init__(self, communes: Sequence[Commune], seed: int) -> None:
        self.rnd = rnd = random.Random(seed)
        self.seed = seed
        by_province: dict[str, list[tuple[tuple[str, bool], float]]] = {}
        for code, name, province in sorted(communes):
            ward = name.startswith("Phường")
            by_province.setdefault(province, []).append(((code, ward), 3.0 if ward else 1.0))
        provinces = sorted(by_province)
        pop = {p: N.PROVINCE_POPULATION.get(p, 1.0) for p in provinces}
        self.province = _Pick([(p, pop[p]) for p in provinces])
        self.destination = _Pick([(p, pop[p] ** 2) for p in provinces])  # big cities draw movers
        self.commune = {p: _Pick(v) for p, v in by_province.items()}
        legacy: dict[str, list[str]] = {}
        for code, (_, current) in sorted(ID_PROVINCES.items()):
            legacy.setdefault(current, []).append(code)
        self.legacy = {p: legacy.get(p) or sorted(ID_PROVINCES) for p in provinces}
        self.any_birth = _Pick([(c, pop.get(cur, 1.0) / len(legacy[cur])) for c, (_, cur) in
                                sorted(ID_PROVINCES.items())])
        self.family = {r: _Pick([*N.FAMILY_COMMON, *N.FAMILY_REGIONAL[r],
                                 *((f, N.FAMILY_OTHER_SHARE / len(N.FAMILY_OTHER)) for f in N.FAMILY_OTHER)])
                       for r in N.FAMILY_REGIONAL}
        self.middle = {"M": _Pick(N.MIDDLE_MALE), "F": _Pick(N.MIDDLE_FEMALE)}
        self.given = {"M": _Pick(N.GIVEN_MALE), "F": _Pick(N.GIVEN_FEMALE)}
        self.size = _Pick(N.HOUSEHOLD_SIZES)
        self.head_age = _Pick([(lo, share * _HEADSHIP.get(lo, 0.85))
                               for lo, share in N.AGE_BANDS if lo >= 20])
        self.serial_offset = rnd.randrange(1_000_000)
        self.serials: dict[int, int] = {}
        self.households = 0

    # --- one person ---------------------------------------------------------------------------------------

    def _name(self, family: str, sex: Sex, year: int) -> str:
        rnd = self.rnd
        traditional = rnd.random() < _traditional_share(sex, year)
        middle = N.MIDDLE_TRADITIONAL[sex] if traditional else self.middle[sex](rnd)
        if sex == "F" and year >= 1985 and rnd.random() < 0.15:
            middle = f"{middle} {self.middle['F'](rnd)}"
        given = self.given[sex](rnd)
        while middle.endswith(given):
            given = self.given[sex](rnd)
        return f"{family} {middle} {given}"

    def _address(self, province: str, ward: bool) -> str:
        rnd = self.rnd
        if ward:
            kind = "phố" if int(province) <= 42 and rnd.random() < 0.5 else "đường"
            alley = f"ngõ {rnd.randrange(1, 200)} " if rnd.random() < 0.3 else ""
            return f"Số {rnd.randrange(1, 400)} {alley}{kind} {rnd.choice(N.STREETS)}"
        village = "Bản" if province in N.MOUNTAIN_PROVINCES else "Ấp" if int(province) >= 70 else "Thôn"
        return f"{village} {rnd.randrange(1, 25)}"

    def _id(self, birth: str, dob: date, sex: Sex) -> str:
        """Serials are distinct within each PPPGYY prefix: k * stride + an offset per prefix (mod 10**6)."""
        key = int(birth) * 1000 + ((dob.year - 1900) // 100 * 2 + (sex == "F")) * 100 + dob.year % 100
        k = self.serials.get(key, 0)
        if k >= 1_000_000:
            raise ValueError("more than a million synthetic people share one ID prefix")
        self.serials[key] = k + 1
        return encode_id(birth, dob, sex, k * _SERIAL_STRIDE + key * 2_654_435_761 + self.serial_offset)

    def _person(self, age: float, sex: Sex, family: str, relation: str, home: tuple[str, str, str],
                household_id: str) -> PersonRow:
        rnd = self.rnd
        commune, address, birth_home = home
        dob = date.fromordinal(_REF_ORD - int(age * 365.2425) - 1)
        birth = birth_home if rnd.random() < 0.8 else self.any_birth(rnd)
        full_name = self._name(family, sex, dob.year)
        current, current_address = commune, address
        if age >= 18 and rnd.random() < (0.22 if age < 40 else 0.03):  # lives away from home
            there = self.destination(rnd)
            current, ward = self.commune[there](rnd)
            current_address = self._address(there, ward)
        phone = f"{rnd.choice(N.MOBILE_PREFIXES)}{rnd.randrange(10_000_000):07d}" \
            if age >= 18 and rnd.random() < 0.93 else None
        old_id = f"{rnd.randrange(1_000_000_000):09d}" if age >= 25 and rnd.random() < 0.7 else None
        return (self._id(birth, dob, sex), old_id, full_name, fold_name(full_name), dob, sex, birth, commune,
                address, current, current_address, household_id, relation, phone)

    # --- one household ------------------------------------------------------------------------------------

    def household(self) -> list[PersonRow]:
        rnd = self.rnd
        self.households += 1
        household_id = f"HK{self.seed % 100_000:05d}-{self.households:08d}"
        province = self.province(rnd)
        commune, ward = self.commune[province](rnd)
        birth_home = rnd.choice(self.legacy[province]) if rnd.random() < 0.85 else self.any_birth(rnd)
        home = (commune, self._address(province, ward), birth_home)
        family = self.family[_region(birth_home)]
        size = self.size(rnd)
        head_age = self.head_age(rnd) + rnd.random() * 5
        if size == 1:
            head_sex: Sex = "F" if rnd.random() < (0.65 if head_age >= 65 else 0.45) else "M"
        else:
            head_sex = "M" if rnd.random() < 0.72 else "F"
        plan: list[tuple[float, Sex, str, str]] = [(head_age, head_sex, family(rnd), N.HEAD)]
        fathers_family = plan[0][2] if head_sex == "M" else family(rnd)
        youngest_parent = head_age
        if size >= 2 and (size >= 3 or rnd.random() < 0.8) and head_age < 85:
            gap = max(0.0, rnd.gauss(3, 2.5))
            spouse_sex: Sex = "F" if head_sex == "M" else "M"
            spouse_age = max(18.0, head_age - gap if head_sex == "M" else head_age + gap)
            plan.append((spouse_age, spouse_sex, family(rnd), N.WIFE if spouse_sex == "F" else N.HUSBAND))
            if spouse_sex == "M":
                fathers_family = plan[-1][2]
            youngest_parent = min(head_age, spouse_age)
        slots = size - len(plan)
        if slots >= 2 and youngest_parent >= 52 and rnd.random() < 0.55:
            plan += self._three_generations(slots, youngest_parent, fathers_family, family)
        else:
            if slots >= 3 and head_age <= 50 and rnd.random() < 0.3:
                plan.append((min(100.0, head_age + rnd.uniform(24, 34)), "M", plan[0][2], N.FATHER))
                plan.append((min(99.0, head_age + rnd.uniform(20, 32)), "F", family(rnd), N.MOTHER))
            while len(plan) < size:
                plan.append((self._child_age(youngest_parent), "M" if rnd.random() < 0.51 else "F",
                             fathers_family, N.CHILD))
        return [self._person(age, sex, fam, rel, home, household_id) for age, sex, fam, rel in plan]

    def _child_age(self, parent_age: float) -> float:
        age = parent_age - self.rnd.uniform(19, 40)
        return age if age >= 0 else self.rnd.uniform(0, max(0.1, parent_age - 18))

    def _three_generations(self, slots: int, parent_age: float, fathers_family: str,
                           family: Callable[[random.Random], str]) -> list[tuple[float, Sex, str, str]]:
        """An adult child living with the head, with a spouse and the grandchildren."""
        rnd = self.rnd
        child_age = max(18.0, parent_age - rnd.uniform(20, 34))
        child_sex: Sex = "M" if rnd.random() < 0.7 else "F"
        plan: list[tuple[float, Sex, str, str]] = [(child_age, child_sex, fathers_family, N.CHILD)]
        grandfathers_family, young_parent = fathers_family, child_age
        if slots >= 3 and rnd.random() < 0.8:
            in_law_sex: Sex = "F" if child_sex == "M" else "M"
            in_law_age = max(18.0, child_age + rnd.gauss(-2 if in_law_sex == "F" else 2, 2))
            plan.append((in_law_age, in_law_sex, family(rnd),
                         N.DAUGHTER_IN_LAW if in_law_sex == "F" else N.SON_IN_LAW))
            if in_law_sex == "M":
                grandfathers_family = plan[-1][2]
            young_parent = min(child_age, in_law_age)
        while len(plan) < slots:
            plan.append((self._child_age(young_parent), "M" if rnd.random() < 0.51 else "F",
                         grandfathers_family, N.GRANDCHILD))
        return plan


def generate_people(communes: Sequence[Commune], n: int, seed: int) -> Iterator[PersonRow]:
    """`n` synthetic people (the last household may be cut short), deterministic for `seed` and `communes`."""
    population = _Population(communes, seed)
    produced = 0
    while produced < n:
        for row in population.household()[: n - produced]:
            produced += 1
            yield row


async def load_communes(db: Database) -> list[Commune]:
    async with db.unit_of_work() as session:
        rows = await session.execute(
            select(Unit.code, Unit.name, Unit.parent_code).where(Unit.level == "commune").order_by(Unit.code))
        return [(code, name, parent or "") for code, name, parent in rows]


async def seed_population(
    db: Database, n: int, *, seed: int, progress: Callable[[int], None] | None = None,
    batch_size: int = 20_000,
) -> int:
    """Upsert `n` synthetic people (one transaction per batch); returns how many were written.
    `progress(written)` is called after each committed batch."""
    communes = await load_communes(db)
    if not communes:
        raise ValueError("no communes are loaded: load the administrative units first")
    people = generate_people(communes, n, seed)
    written = 0

    def produce() -> Batch | None:
        rows: list[tuple[object, ...]] = list(itertools.islice(people, batch_size))
        return Batch(rows, read=len(rows)) if rows else None

    async def done(batch: Batch, _counts: WriteCounts) -> None:
        nonlocal written
        written += len(batch.rows)
        if progress is not None:
            progress(written)

    await pump(db, produce, done)
    return written
