"""Every HTML page answers junk input with a page, never a 500.

The routes are listed from the app itself (everything not under /api/, not a static asset and not an
event stream), so a new page is swept as soon as it is mounted. For each route, logged in as a role that
may use it (with a valid CSRF token):

* GET pages get junk in each path parameter (text, negative, 2**70, SQL and HTML metacharacters, emoji,
  NUL, 5,000 characters) and junk query strings (page=-1/abc/10**20, unknown parameters, huge, NUL and
  impossible-date values for every parameter the route reads);
* POST forms get every field missing, empty, of the wrong type, 10k characters, with NUL, with HTML/script,
  with impossible and far dates; upload forms get a non-CSV binary, UTF-16 and latin-1 files and an empty
  file.

Each response must be below 500; HTML/script input must never come back unescaped; a refused request must
answer with a page that says why (`role="alert"`) or a redirect; and a refused POST must not have added
rows to any domain table. Failures name the route, the role and the input.
"""

from __future__ import annotations

import inspect
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, UploadFile
from fastapi.routing import iter_route_contexts
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.deps import current_actor, optional_actor
from dancu.accounts.permissions import ROLE_PERMISSIONS, Permission, Role
from dancu.accounts.schemas import TokenCreate
from dancu.accounts.service import create_token
from dancu.checkpoints import green_lane
from dancu.checkpoints.schemas import GreenLaneIssue, ReportQuery, VehicleCreate
from dancu.config import Settings
from dancu.core.db import utcnow
from dancu.core.web import LOCAL_TZ
from dancu.credentials.keyfiles import init_keys
from dancu.credentials.keys import Keyring, clear_keyring_cache, get_keyring
from dancu.declarations.forms import TEXT_FIELDS
from dancu.declarations.schemas import DeclarationQuery
from dancu.declarations.service import local_today
from dancu.models import Base
from dancu.notifications.schemas import NoticeFilter, NoticeQuery, WebhookCreate
from dancu.notifications.service import invalidate_webhook_cache, notify_movement
from dancu.notifications.webhooks import create_webhook
from dancu.registry.schemas import PersonSearch
from tests.checkpoints.conftest import make_checkpoint, make_declaration
from tests.factories import (
    HANOI,
    HANOI_COMMUNE,
    HANOI_COMMUNE_2,
    PASSWORD,
    actor_of,
    form_token,
    hcmc_commune,
    login,
    make_account,
    make_person,
)

XSS = "<script>alert(1)</script>"
XSS_ATTR = '"><img src=x onerror=alert(1)>'
NUL = "a\x00b"

# Junk for a path parameter, each sent alone (the other parameters valid).
PATH_JUNK = ["abc", "-1", "0", str(2**63), str(2**70), str(-(2**70)), "1' OR '1'='1", XSS, "🦠😷", NUL, "a" * 5000]

# Junk for query parameters and form fields: each value in every field at once, and the core of it in one
# field at a time (the others valid) -- dates only in the fields that hold dates.
JUNK = ["", "abc", "-1", str(2**70), str(-(10**20)), "x" * 10_000, NUL, XSS, XSS_ATTR, "31/02/2021", "2021-02-31",
        "9999-12-31", "0001-01-01", "1' OR '1'='1", "😷" * 50]
ONE_FIELD_JUNK = ["", "abc", "-1", str(2**70), "x" * 10_000, NUL, XSS]
DATE_JUNK = ["31/02/2021", "9999-12-31", "0001-01-01"]
DATE_NAMES = re.compile(r"date|dob|_at$|^from$|^to$")


def one_field_junk(name: str) -> list[str]:
    return ONE_FIELD_JUNK + (DATE_JUNK if DATE_NAMES.search(name) else [])


# Pages that read their query string by hand (request.query_params) rather than declaring parameters: the
# model that validates it. A route reading query_params without an entry here fails `test_routes_are_known`.
QUERY_MODELS: dict[str, type[Any]] = {
    "/registry": PersonSearch,
    "/declarations/list": DeclarationQuery,
    "/notices": NoticeQuery,
    "/notices/export.xlsx": NoticeFilter,
    "/reports/checkpoints": ReportQuery,
    "/reports/checkpoints.xlsx": ReportQuery,
}
# Unit and officer pickers send whichever input they are attached to: any name will do.
FREE_QUERY = {"/units/options", "/checkpoints/officer-options", "/notices/checkpoints"}

# Forms read by hand (await request.form()): their fields.
DECLARATION_FORM = (*TEXT_FIELDS, "symptoms", "exposures", "attested")
FORM_FIELDS = {"/declarations/new": DECLARATION_FORM, "/declarations/paper": DECLARATION_FORM}

# Rows a refused request may still write on purpose: denials are audited, failed log-ins counted, sessions
# touched.
MAY_WRITE_WHEN_REFUSED = {"audit_events", "login_attempts", "web_sessions"}

ROLE_ORDER = (Role.OFFICIAL, Role.CHECKPOINT_OFFICER, Role.CITIZEN, Role.ADMIN)


# --- the routes, from the app ---------------------------------------------------------------------

@dataclass(frozen=True)
class PageRoute:
    method: str
    path: str  # as declared, e.g. /declarations/{declaration_id:int}
    endpoint_source: str = field(repr=False, compare=False)
    path_params: tuple[str, ...] = ()
    query: tuple[str, ...] = ()
    form: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    permissions: frozenset[Permission] = frozenset()
    needs_actor: bool = False
    optional_actor: bool = False

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, values: dict[str, str]) -> str:
        def sub(m: re.Match[str]) -> str:
            return quote(values[m.group(1)], safe="")

        return re.sub(r"\{(\w+)(?::\w+)?\}", sub, self.path)


def _walk(dependant: Any) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep
        yield from _walk(dep)


def _permissions(dependant: Any) -> frozenset[Permission]:
    found = set()
    for dep in _walk(dependant):
        for cell in getattr(dep.call, "__closure__", None) or ():
            if isinstance(cell.cell_contents, Permission):
                found.add(cell.cell_contents)
    return frozenset(found)


def page_routes(app: FastAPI) -> list[PageRoute]:
    routes = []
    for r in iter_route_contexts(app.routes):
        dependant = getattr(r, "dependant", None)
        # The JSON API (under /api/, and the health probes) is documented in the schema; pages are not.
        if dependant is None or r.path.startswith(("/api/", "/static")) or r.include_in_schema:
            continue
        source = inspect.getsource(r.endpoint)
        if "text/event-stream" in source:
            continue
        calls = {dep.call for dep in _walk(dependant)}
        body = [p for p in dependant.body_params]
        for method in sorted(r.methods - {"HEAD"}):
            routes.append(PageRoute(
                method=method,
                path=r.path,
                endpoint_source=source,
                path_params=tuple(p.name for p in dependant.path_params),
                query=tuple(p.alias for p in dependant.query_params),
                form=tuple(p.alias for p in body if p.field_info.annotation is not UploadFile
                           and p.alias != "csrf_token"),
                files=tuple(p.alias for p in body if p.field_info.annotation is UploadFile),
                permissions=_permissions(dependant),
                needs_actor=current_actor in calls,
                optional_actor=optional_actor in calls and current_actor not in calls,
            ))
    return routes


def _build_app() -> FastAPI:
    from dancu.app import create_app

    settings = Settings(env="test", data_dir=Path(tempfile.gettempdir()) / "dancu-routes",
                        database_url="sqlite+aiosqlite:///unused.db", log_json=False, log_level="WARNING")
    return create_app(settings)


ROUTES = page_routes(_build_app())
GET_ROUTES = [r for r in ROUTES if r.method == "GET"]
POST_ROUTES = [r for r in ROUTES if r.method == "POST"]


def roles_for(route: PageRoute) -> list[Role | None]:
    """Who sweeps the route: a role holding its permissions; for pages any logged-in user may open, a
    citizen, an officer and an official; for public pages, a visitor (and an official)."""
    if route.permissions:
        for role in ROLE_ORDER:
            if route.permissions <= ROLE_PERMISSIONS[role]:
                return [role]
        raise AssertionError(f"no role holds {set(route.permissions)} for {route.id}")
    if route.needs_actor:
        return [Role.CITIZEN, Role.CHECKPOINT_OFFICER, Role.OFFICIAL]
    if route.optional_actor:
        return [None, Role.OFFICIAL]
    return [None]


def query_names(route: PageRoute) -> tuple[str, ...]:
    model = QUERY_MODELS.get(route.path)
    names = list(route.query)
    if model is not None:
        names += [f.alias or name for name, f in model.model_fields.items()]
    if route.path in FREE_QUERY:
        names.append("q")
    return tuple(dict.fromkeys([*names, "page"]))


def form_names(route: PageRoute) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*route.form, *FORM_FIELDS.get(route.path, ())]))


def test_routes_are_known() -> None:
    """The sweep knows how every page reads its input (a new page reading its query or form by hand must
    say which fields it reads)."""
    paths = {r.path for r in ROUTES}
    assert {"/login", "/declarations/new", "/registry/imports", "/declarations/paper/import"} <= paths
    assert not [p for p in paths if p.startswith("/api/")]
    for route in ROUTES:
        if "query_params" in route.endpoint_source:
            assert route.path in QUERY_MODELS or route.path in FREE_QUERY, f"{route.id}: which query fields?"
        if "request.form()" in route.endpoint_source:
            assert route.path in FORM_FIELDS, f"{route.id}: which form fields?"
        unknown = set(route.path_params) - set(VALID_PATH_KEYS)
        assert not unknown, f"{route.id}: give a valid value for {unknown} in Scene.path_values"


# --- the scene --------------------------------------------------------------------------------------

VALID_PATH_KEYS = ("account_id", "token_id", "person_id", "household_id", "job_id", "token", "declaration_id",
                   "checkpoint_id", "vehicle_id", "pass_row_id", "webhook_id")


@dataclass
class Scene:
    accounts: dict[Role, str]  # role -> username
    path_values: dict[str, str]
    form_values: dict[str, Any]


@pytest.fixture
def keyring(settings: Settings) -> Iterator[Keyring]:
    assert init_keys(settings.keys_dir, now=utcnow() - timedelta(days=30))
    yield get_keyring(settings)
    clear_keyring_cache()


@pytest.fixture(autouse=True)
def _fresh_webhook_cache() -> Iterator[None]:
    invalidate_webhook_cache()
    yield
    invalidate_webhook_cache()


@pytest_asyncio.fixture
async def scene(session: AsyncSession, keyring: Keyring) -> Scene:
    """An official and an admin of Hà Nội, an officer at a checkpoint there, a citizen with a pass, a
    vehicle with a green-lane pass, a webhook, a token, and notices."""
    official = await make_account(session, Role.OFFICIAL, HANOI)
    admin = await make_account(session, Role.ADMIN, HANOI)
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE)
    other_officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE)
    checkpoint = await make_checkpoint(session, officers=(officer,))
    person = await make_person(session, full_name="Trần Thị Bình", dob=date(1991, 4, 2), sex="F",
                               household_id="HN-000123")
    citizen = await make_account(session, Role.CITIZEN, HANOI_COMMUNE, username=person.national_id, person=person)
    destination = await hcmc_commune(session)
    declaration = await make_declaration(session, person, keyring, destination=destination)
    official_actor = await actor_of(session, official)
    vehicle = await green_lane.register_vehicle(session, official_actor, VehicleCreate(
        plate="51C-12345", vehicle_type="Xe tải", owner_company="Công ty Bắc Nam", unit_code=HANOI_COMMUNE))
    issued = await green_lane.issue_pass(session, official_actor, vehicle.id, GreenLaneIssue(
        driver_national_id=person.national_id, origin_unit_code=HANOI_COMMUNE, destination_unit_code=destination,
        test_kind="pcr", test_taken_at=utcnow() - timedelta(hours=2)), keyring=keyring)
    hook = await create_webhook(session, official_actor, WebhookCreate(url="https://ubnd.example/hook"),
                                allow_loopback_http=True)
    token, _plain = await create_token(session, official_actor, TokenCreate(name="device"))
    notices = await notify_movement(session, source="declaration", person_id=person.id,
                                    origin_unit_code=HANOI_COMMUNE, destination_unit_code=HANOI_COMMUNE_2,
                                    travel_date=local_today())
    await session.commit()
    path_values = {
        "account_id": str(other_officer.id), "token_id": str(token.id), "person_id": str(person.id),
        "household_id": "HN-000123", "job_id": "1", "token": "0123456789abcdef",
        "declaration_id": str(declaration.id), "checkpoint_id": str(checkpoint.id), "vehicle_id": str(vehicle.id),
        "pass_row_id": str(issued.id), "webhook_id": str(hook.id),
    }
    local_now = utcnow().astimezone(LOCAL_TZ)
    form_values: dict[str, Any] = {
        # accounts
        "username": other_officer.username, "password": PASSWORD, "next": "/", "lang": "en",
        "display_name": "Cán bộ Mới", "role": "checkpoint_officer", "unit_code": HANOI_COMMUNE, "active": "true",
        "days": "30",
        # sign-up and declarations
        "national_id": person.national_id, "full_name": person.full_name, "dob": person.dob.isoformat(),
        "phone": "0912345678", "origin_unit_code": HANOI_COMMUNE, "origin_address": "12 Phố Huế",
        "destination_unit_code": HANOI_COMMUNE_2, "destination_address": "5 Hoàng Hoa Thám",
        "travel_date": local_today().isoformat(), "return_date": "", "transport": "motorbike",
        "vehicle_plate": "29B1-234.56", "transport_detail": "", "purpose": "verification", "places_visited": "",
        "symptoms": [], "exposures": [], "attested": "on", "reason": "lost",
        # checkpoints and scanning
        "name": "Trạm Mới", "kind": "internal", "lat": "21.03", "lon": "105.85", "code": declaration.pass_code,
        "method": "usb", "direction": "in", "decision": "confirm", "reason_text": "",
        "scanned_at": utcnow().isoformat(), "idempotency_key": uuid.uuid4().hex, "label": "Xe 1",
        # green lane
        "plate": "51C-67890", "vehicle_type": "Xe tải", "owner_company": "Công ty Nam Bắc",
        "driver_national_id": person.national_id, "test_kind": "pcr",
        "test_taken_at": (local_now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        # notices and webhooks
        "ids": [str(n.id) for n in notices], "url": "https://ubnd.example/other",
    }
    accounts = {Role.OFFICIAL: official.username, Role.ADMIN: admin.username,
                Role.CHECKPOINT_OFFICER: officer.username, Role.CITIZEN: citizen.username}
    return Scene(accounts, path_values, form_values)


# --- checking one response ----------------------------------------------------------------------------

ALERT = re.compile(r'role="alert"[^>]*>\s*(?:<[^>]+>\s*)*[^<\s]')


def problems(r: httpx.Response, *, sent_markup: bool) -> list[str]:
    found = []
    if r.status_code >= 500:
        found.append(f"status {r.status_code}")
    ctype = r.headers.get("content-type", "")
    textual = ctype.startswith(("text/", "application/json"))
    if sent_markup and textual and (XSS in r.text or XSS_ATTR in r.text):
        found.append("markup echoed unescaped")
    if 300 <= r.status_code < 400 and not r.headers.get("location"):
        found.append("redirect without a location")
    if 400 <= r.status_code < 500:
        if not ctype.startswith("text/html"):
            found.append(f"bare error ({ctype or 'no content type'}): {r.text[:120]!r}")
        elif not ALERT.search(r.text):
            found.append(f"error page without a message: {r.text[:200]!r}")
    return found


async def domain_counts(session: AsyncSession) -> dict[str, int]:
    names = sorted(set(Base.metadata.tables) - MAY_WRITE_WHEN_REFUSED)
    row = (await session.execute(select(*[
        select(func.count()).select_from(text(f'"{n}"')).scalar_subquery().label(n) for n in names
    ]))).one()
    return dict(zip(names, row, strict=True))


@dataclass
class Sweep:
    route: PageRoute
    client: httpx.AsyncClient
    session: AsyncSession
    failures: list[str] = field(default_factory=list)
    sent: int = 0

    async def check(self, who: str, what: str, request: Any, *, markup: bool, post: bool = False) -> int:
        """Send one request and note what is wrong with its answer; returns its status."""
        before = await domain_counts(self.session) if post else None
        try:
            r = await request
        except Exception as exc:  # an exception escaping the app is a 500 too
            self.failures.append(f"{self.route.id} as {who} with {what}: raised {type(exc).__name__}: {exc}")
            return 500
        self.sent += 1
        found = problems(r, sent_markup=markup)
        if before is not None and r.status_code >= 400:
            after = await domain_counts(self.session)
            grown = {t: after[t] - before[t] for t in after if after[t] != before[t]}
            if grown:
                found.append(f"refused ({r.status_code}) but wrote rows: {grown}")
        for p in found:
            self.failures.append(f"{self.route.id} as {who} with {what}: {p}")
        return r.status_code

    def assert_clean(self) -> None:
        assert self.sent, f"{self.route.id}: nothing was sent"
        assert not self.failures, "\n".join(self.failures[:40]) + (
            f"\n... and {len(self.failures) - 40} more" if len(self.failures) > 40 else "")


def short(value: object) -> str:
    s = repr(value)
    return s if len(s) <= 40 else s[:30] + f"...({len(str(value))} chars)"


async def log_in(client: httpx.AsyncClient, scene: Scene, role: Role | None) -> str:
    client.cookies.clear()
    client.cookies.set("lang", "en")
    if role is None:
        return ""
    return await login(client, scene.accounts[role])


# --- GET pages ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("route", GET_ROUTES, ids=lambda r: r.id)
async def test_get_pages_answer_junk_with_a_page(
    route: PageRoute, client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    sweep = Sweep(route, client, session)
    names = query_names(route)
    queries: list[dict[str, str]] = [
        {"page": "-1"}, {"page": "abc"}, {"page": str(10**20)}, {"page": "0"}, {"no_such_param": XSS, "also[]": "1"},
        # (all at once, the long value shortened so the URL stays under the client's 64 KiB for a query)
        *({name: junk[: 60_000 // max(1, len(names))] for name in names} for junk in JUNK[1:]),
        *({name: junk} for name in names if name != "page" for junk in one_field_junk(name)),
    ]
    queried = False
    for role in roles_for(route):
        who = role.value if role else "visitor"
        await log_in(client, scene, role)
        valid = scene.path_values
        allowed = await sweep.check(who, "valid input", client.get(route.url(valid)), markup=False) < 400
        for name in route.path_params:
            for junk in PATH_JUNK:
                url = route.url({**valid, name: junk})
                await sweep.check(who, f"path {name}={short(junk)}", client.get(url), markup=junk == XSS)
        if queried and not allowed:
            continue  # the query string is swept once, by a role the page serves (and by visitors)
        queried = queried or allowed
        url = route.url(valid)
        for params in queries:
            markup = any(v in (XSS, XSS_ATTR) for v in params.values())
            what = "query " + ", ".join(f"{k}={short(v)}" for k, v in params.items())
            await sweep.check(who, what, client.get(url, params=params), markup=markup)
            if "is_htmx" in route.endpoint_source:  # the partial the page swaps in, too
                htmx = client.get(url, params=params, headers={"HX-Request": "true"})
                await sweep.check(who, what + " (htmx)", htmx, markup=markup)
    sweep.assert_clean()


# --- POST forms --------------------------------------------------------------------------------------

BINARY = bytes(range(256)) * 8 + b"\x89PNG\r\n\x1a\n\x00\x00"
CSV_TEXT = "national_id,full_name,dob,travel_date\n001091000001,Nguyễn Thị Ánh,1991-04-02,2021-08-12\n"
FILE_JUNK: list[tuple[str, str, bytes, str]] = [
    ("binary named .csv", "forms.csv", BINARY, "text/csv"),
    ("binary named .xlsx", "forms.xlsx", BINARY, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("binary named .png", "photo.png", BINARY, "image/png"),
    ("UTF-16 CSV", "forms.csv", CSV_TEXT.encode("utf-16"), "text/csv"),
    ("latin-1 CSV", "forms.csv", CSV_TEXT.replace("Nguyễn Thị", "Hoà Côn").encode("latin-1"), "text/csv"),
    ("empty file", "forms.csv", b"", "text/csv"),
    ("CSV with NUL and script", "forms.csv", (CSV_TEXT + f"\x00,{XSS},31/02/2021,9999-12-31\n").encode(),
     "text/csv"),
    ("no file name", "", b"a,b\n1,2\n", "text/csv"),
]
# The register import stores the file and imports it in the background (its own transactions, which the
# per-test rollback cannot hold): the sweep sends it only files refused before any job starts; the job's
# handling of junk content (the same job as the API's) is test_register_import_takes_junk_files_without_a_500
# in tests/test_api_robustness.py.
BACKGROUND_IMPORTS = {"/registry/imports"}


def _synchronously_refused(label: str) -> bool:
    return label in ("binary named .png", "empty file", "no file name")


@pytest.mark.parametrize("route", POST_ROUTES, ids=lambda r: r.id)
async def test_post_forms_answer_junk_with_a_message(
    route: PageRoute, client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    sweep = Sweep(route, client, session)
    names = form_names(route)
    anonymous_form = route.path in ("/login", "/signup")
    swept_fields = False
    for role in roles_for(route):
        who = role.value if role else "visitor"
        csrf = await log_in(client, scene, role)

        async def token(csrf: str = csrf) -> str:
            return await form_token(client, route.path) if anonymous_form else csrf

        def post(data: dict[str, Any], files: Any = None, url: str | None = None) -> Any:
            return client.post(url or route.url(scene.path_values), data=data, files=files)

        valid = {n: scene.form_values.get(n, "x") for n in names}
        status = await sweep.check(who, "valid input", post({**valid, "csrf_token": await token()}), markup=False,
                                   post=True)
        bodies: list[tuple[str, dict[str, Any]]] = [("every field missing", {}),
                                                    *((f"every field {short(j)}", {n: j for n in names})
                                                      for j in JUNK)]
        if not swept_fields and status != 403:  # one field at a time: once, by a role the form serves
            swept_fields = True
            bodies += [(f"{n}={short(j)}", {**valid, n: j}) for n in names for j in one_field_junk(n)]
            bodies.append(("an unknown field", {**valid, "no_such_field": XSS}))
        for what, body in bodies:
            markup = any(v in (XSS, XSS_ATTR) for v in body.values())
            await sweep.check(who, what, post({**body, "csrf_token": await token()}), markup=markup, post=True)
        for name in route.path_params:
            for junk in PATH_JUNK:
                url = route.url({**scene.path_values, name: junk})
                await sweep.check(who, f"path {name}={short(junk)}", post({**valid, "csrf_token": await token()},
                                                                          url=url), markup=junk == XSS, post=True)
        for field_name in route.files:
            for label, filename, content, ctype in FILE_JUNK:
                if route.path in BACKGROUND_IMPORTS and not _synchronously_refused(label):
                    continue
                files = {field_name: (filename, content, ctype)}
                await sweep.check(who, f"upload {label}", post({"csrf_token": await token()}, files=files),
                                  markup=True, post=True)
            await sweep.check(who, "upload missing", post({"csrf_token": await token()}), markup=False, post=True)
            await sweep.check(who, "upload as a text field",
                              post({field_name: XSS, "csrf_token": await token()}), markup=True, post=True)
    sweep.assert_clean()
