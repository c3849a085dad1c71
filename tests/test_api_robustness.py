"""Every operation of the JSON API, swept from the app's OpenAPI schema with malformed input.

The project rule: outside input is validated, and bad input gets a clear 4xx (JSON naming the field and the
reason), never a 500. For each operation (method + path), as a national admin, a checkpoint officer (the
only role that reaches the scanning-device bodies) and a citizen (the only role that declares), this module
sends junk path parameters, junk query parameters and junk JSON bodies (invalid JSON, wrong shapes, every
declared field set to wrong types, huge numbers, long strings, NULs, lone surrogates, far dates) and checks
each answer. Path parameters other than the one under attack point at real rows (a checkpoint, a vehicle, a
declaration, ...), so bodies get past the look-ups and reach the services and the database.

No operation is skipped: the test fails if the schema holds an operation this module does not know how to
send (a new content type), so a new endpoint is swept from the day it is added.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.app import create_app
from dancu.config import Settings
from dancu.core.db import utcnow
from dancu.credentials.keyfiles import init_keys
from dancu.credentials.keys import clear_keyring_cache
from tests.checkpoints.conftest import bearer, make_checkpoint, make_declaration
from tests.declarations.helpers import paper, trip
from tests.factories import HANOI, HANOI_COMMUNE, hcmc_commune, make_account, make_person

if TYPE_CHECKING:
    from dancu.credentials.keys import Keyring

pytestmark = pytest.mark.asyncio(loop_scope="session")

API = "/api/v1"

# The schema as the app publishes it (GET /api/v1/openapi.json); building an app touches no database.
_SCHEMA_APP = create_app(Settings(env="test", database_url="sqlite+aiosqlite:///unused.db", log_json=False,
                                  log_level="WARNING"))
SCHEMA: dict[str, Any] = _SCHEMA_APP.openapi()
OPERATIONS = [(method.upper(), path) for path, ops in SCHEMA["paths"].items() if path.startswith(API)
              for method in ops]
ROLES = ("admin", "officer", "citizen")

# --- junk ----------------------------------------------------------------------------------------------

LONG = "x" * 10_000
# Path segments, as they appear in the URL (percent-encoded where needed).
JUNK_PATH = [
    "abc", "-1", str(2**63), str(2**70), quote("1' OR '1'='1", safe=""), quote("😀", safe=""), "a" * 3000,
    "a%00b", "%ED%A0%80", "..%2F..%2Fetc%2Fpasswd",
]
# Query values (httpx percent-encodes them).
JUNK_QUERY: list[str] = [
    "abc", "-1", str(2**63), str(2**70), "1' OR '1'='1", "😀", "a\x00b", LONG, "", "0001-01-01", "9999-12-31",
]
# JSON values for a declared field.
_NUL = "a\u0000b"
_SURROGATE = "\ud800"
JUNK_VALUES: list[Any] = [
    "not-a-number", 2**63, -(2**70), -1, 1.5, True, None, {"nested": {"deeper": [1, {"x": 2}]}}, [1, "two"],
    LONG, _NUL, _SURROGATE, "", "1' OR '1'='1 😀",
]
# Whole bodies that are not what the operation takes (sent as raw bytes).
JUNK_BODIES: list[bytes] = [
    b"", b"{", b'{"a": 1,}', b"[]", b"[{}]", b"null", b"{}", b'"text"', b"12", b"\xff\xfe\x00",
    b'{"a": "\\ud800"}', b"{" * 5000 + b"}" * 5000,
]
FAR_DATES = ["0001-01-01", "1900-01-01", "9999-12-31"]
FAR_DATETIMES = ["0001-01-01T00:00:00+00:00", "1900-01-01T00:00:00+07:00", "9999-12-31T23:59:59+07:00"]


def dumps(value: Any) -> bytes:
    """JSON as bytes; lone surrogates are written as \\ud800 escapes (valid JSON text, invalid UTF-16)."""
    return json.dumps(value, ensure_ascii=True).encode()


# --- the schema ----------------------------------------------------------------------------------------


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = SCHEMA["components"]["schemas"][name]
    return schema


def alternatives(schema: dict[str, Any]) -> list[dict[str, Any]]:
    schema = resolve(schema)
    options = schema.get("anyOf") or schema.get("oneOf")
    return [resolve(s) for s in options] if options else [schema]


def json_body_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    return resolve(content["application/json"]["schema"]) if "application/json" in content else None


def is_date(schema: dict[str, Any]) -> str | None:
    for s in alternatives(schema):
        if s.get("format") in ("date", "date-time"):
            return str(s["format"])
    return None


# --- the scene: real rows for the path parameters, and a body of the right shape per operation ---------


@dataclass
class Scene:
    ids: dict[str, str]  # path parameter -> a real value
    headers: dict[str, dict[str, str]]  # role -> Authorization
    bodies: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def _keys_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keys_dir = tmp_path_factory.mktemp("robustness-keys") / "keys"
    assert init_keys(keys_dir, now=utcnow() - timedelta(days=30))
    return keys_dir


@pytest.fixture
def keys(settings: Settings, _keys_template: Path) -> Iterator[None]:
    """Real signing keys where the app under test looks (passes are issued and verified)."""
    shutil.copytree(_keys_template, settings.keys_dir)
    yield
    clear_keyring_cache()


async def scene_of(session: AsyncSession, keyring: Keyring) -> Scene:
    person = await make_person(session, household_id="HH-ROBUST-1")
    citizen = await make_account(session, Role.CITIZEN, HANOI_COMMUNE, username=person.national_id, person=person)
    admin = await make_account(session, Role.ADMIN, "VN")
    officer = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI)
    checkpoint = await make_checkpoint(session, officers=(officer,))
    hcmc = await hcmc_commune(session)
    declaration = await make_declaration(session, person, keyring, destination=hcmc)
    headers = {"admin": await bearer(session, admin), "officer": await bearer(session, officer),
               "citizen": await bearer(session, citizen)}
    from dancu.checkpoints.models import Vehicle
    from dancu.notifications.models import Webhook

    vehicle = Vehicle(plate="29C12345", vehicle_type="truck", owner_company="Công ty Vận tải", unit_code=HANOI)
    session.add(vehicle)
    webhook = Webhook(unit_code=HANOI, url="https://example.org/hook", secret="s" * 32, created_by_id=admin.id)
    session.add(webhook)
    await session.flush()
    now = utcnow().isoformat()
    passage = {"code": person.national_id, "decision": "confirm", "method": "manual", "scanned_at": now,
               "idempotency_key": "robust-0001"}
    ids = {
        "checkpoint_id": str(checkpoint.id), "account_id": str(officer.id), "vehicle_id": str(vehicle.id),
        "pass_row_id": "1", "token_id": "1", "code": HANOI, "person_id": str(person.id),
        "national_id": person.national_id, "household_id": "HH-ROBUST-1", "job_id": "1",
        "token": "abcdefghijklmnop", "declaration_id": str(declaration.id), "webhook_id": str(webhook.id),
    }
    bodies = {
        ("POST", "/checkpoints/{checkpoint_id}/scan"): {"code": person.national_id, "method": "manual"},
        ("POST", "/checkpoints/{checkpoint_id}/passages"): passage,
        ("POST", "/checkpoints/{checkpoint_id}/passages:batch"): {"items": [passage]},
        ("POST", "/checkpoints"): {"name": "Trạm thử", "unit_code": HANOI_COMMUNE, "kind": "internal",
                                   "lat": 21.0, "lon": 105.8},
        ("PATCH", "/checkpoints/{checkpoint_id}"): {"name": "Trạm mới", "kind": "internal", "lat": 21.0,
                                                    "lon": 105.8, "active": True},
        ("POST", "/checkpoints/{checkpoint_id}/officers"): {"account_id": officer.id},
        ("POST", "/vehicles"): {"plate": "29C-999.99", "vehicle_type": "truck", "owner_company": "Công ty B",
                                "unit_code": HANOI},
        ("PATCH", "/vehicles/{vehicle_id}"): {"active": True},
        ("POST", "/vehicles/{vehicle_id}/green-lane-passes"): {
            "driver_national_id": person.national_id, "origin_unit_code": HANOI_COMMUNE,
            "destination_unit_code": hcmc, "test_kind": "pcr", "test_taken_at": now},
        ("POST", "/auth/login"): {"username": "nobody.here", "password": "wrong"},
        ("POST", "/auth/claim"): {"national_id": "001090999999", "full_name": "Không Có", "dob": "1990-01-01",
                                  "password": "long-enough-password"},
        ("POST", "/accounts"): {"username": "robust.user", "display_name": "Robust", "role": "health_worker",
                                "unit_code": HANOI, "password": "long-enough-password"},
        ("POST", "/tokens"): {"name": "device", "days": 30},
        ("POST", "/credentials/verify"): {"text": person.national_id, "clock": now},
        ("POST", "/declarations"): trip(person, return_date=None, phone="0912345678"),
        ("POST", "/declarations/paper"): paper(person),
        ("POST", "/declarations/{declaration_id}/revoke"): {"reason": "robustness"},
        ("POST", "/notices/handled"): {"ids": [1]},
        ("POST", "/webhooks"): {"url": "https://example.org/other", "unit_code": HANOI},
    }
    return Scene(ids=ids, headers=headers, bodies={(m, API + p): b for (m, p), b in bodies.items()})


def example(schema: dict[str, Any]) -> Any:
    """A plausible value for a schema (for a body this module has no hand-written example of)."""
    s = alternatives(schema)[0]
    if "enum" in s:
        return s["enum"][0]
    kind = s.get("type")
    if kind == "object":
        return {name: example(sub) for name, sub in s.get("properties", {}).items() if name in s.get("required", [])}
    if kind == "array":
        return []
    if kind == "integer":
        return max(1, s.get("minimum", 1))
    if kind == "number":
        return s.get("minimum", 1.0)
    if kind == "boolean":
        return True
    fmt = s.get("format")
    if fmt in ("date", "date-time"):
        return FAR_DATES[1] if fmt == "date" else FAR_DATETIMES[1]
    return "x" * max(3, s.get("minLength", 3))


# --- the checks ----------------------------------------------------------------------------------------


@dataclass
class Sweep:
    client: httpx.AsyncClient
    headers: dict[str, str]
    method: str
    failures: list[str] = field(default_factory=list)
    sent: int = 0

    async def send(self, what: str, url: str, *, params: dict[str, str] | None = None, body: bytes | None = None,
                   content_type: str = "application/json", sent_field: str | None = None,
                   files: dict[str, Any] | None = None, auth: str | None = None) -> httpx.Response | None:
        self.sent += 1
        headers = dict(self.headers) if auth is None else {"Authorization": auth}
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            r = await self.client.request(self.method, url, params=params, content=body, headers=headers,
                                          files=files)
        except Exception as exc:  # an exception escaping the app is as bad as a 500
            self.failures.append(f"{what}: {type(exc).__name__}: {exc}"[:500])
            return None
        problem = self.problem(r, sent_field)
        if problem:
            self.failures.append(f"{what}: {r.status_code} {problem} {r.text[:300]!r}")
        return r

    @staticmethod
    def problem(r: httpx.Response, sent_field: str | None) -> str | None:
        if r.status_code >= 500:
            return "server error"
        if r.status_code < 400:
            return None
        try:
            data = r.json()
        except ValueError:
            return "a 4xx that is not JSON"
        if not isinstance(data, dict) or not isinstance(data.get("error"), str):
            return "no error code"
        if not isinstance(data.get("message"), str) or not data["message"].strip():
            return "no message"
        if r.status_code == 422 and data["error"] == "validation_failed" and "details" in data:
            # Request validation (pydantic): the field (None for the body as a whole) and why, for each error.
            # A service's ValidationFailed names its field when there is one (a failed claim deliberately
            # does not say which detail did not match), so only its message is checked above.
            if "field" not in data:
                return "a validation error that names no field"
            if data["message"].startswith("None"):
                return "a validation message that starts with None"
            for detail in data["details"]:
                if not isinstance(detail, dict) or "field" not in detail or not detail.get("message"):
                    return "a validation detail without its field and reason"
            if sent_field is not None:
                named = {str(d.get("field") or "") for d in data["details"]}
                if not any(n == sent_field or n.startswith(sent_field + ".") for n in named):
                    return f"a validation error that does not name {sent_field!r} (names {sorted(named)})"
        return None


def build_url(path: str, ids: dict[str, str], junk: tuple[str, str] | None = None) -> str:
    url = path
    for name, value in ids.items():
        if "{" + name + "}" in url:
            url = url.replace("{" + name + "}", junk[1] if junk and junk[0] == name else quote(value, safe=""))
    assert "{" not in url, f"no value for a path parameter of {path}: add it to the scene"
    return url


# Accepted uploads of the register import start a background job that commits on its own (the job is its own
# edge): it cannot share this module's rolled-back test transaction, so its junk files are sent by
# test_register_import_takes_junk_files_without_a_500, on a database of its own.
OWN_DATABASE_UPLOADS = {("POST", API + "/registry/imports")}
BAD_AUTH = ["Bearer", "Bearer abc", "Bearer dct_" + "x" * 5000, "Bearer dct_' OR '1'='1", "Basic YTpi", "bearer  "]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
async def test_malformed_input_gets_a_clear_4xx_never_a_500(
    client: httpx.AsyncClient, session: AsyncSession, keys: None, settings: Settings, method: str, path: str,
    role: str,
) -> None:
    from dancu.credentials.keys import get_keyring

    scene = await scene_of(session, get_keyring(settings))
    op = SCHEMA["paths"][path][method.lower()]
    sweep = Sweep(client, scene.headers[role], method)
    params = op.get("parameters", [])
    path_params = [p["name"] for p in params if p["in"] == "path"]
    query_params = [p for p in params if p["in"] == "query"]
    # Required query parameters get a valid value, so the others' junk is what is refused.
    base_query = {p["name"]: str(example(p["schema"])) for p in query_params if p.get("required")}
    content = op.get("requestBody", {}).get("content", {})
    known = {"application/json", "multipart/form-data"}
    assert set(content) <= known, f"{method} {path} takes {set(content) - known}: teach this sweep to send it"
    body_schema = json_body_schema(op)
    base_body = scene.bodies.get((method, path))
    if body_schema is not None and base_body is None:
        base_body = example(body_schema)
    good_body = dumps(base_body) if body_schema is not None else None
    url = build_url(path, scene.ids)
    q = base_query or None

    # The right shape first: whatever it answers, it is not a 500. File downloads (GET .../errors.csv,
    # .../export.xlsx, ...-template.csv, the report with format=xlsx) answer 200 with a file, not JSON:
    # only their status counts, and their refusals are JSON like any other.
    base = await sweep.send("valid request", url, params=q, body=good_body)
    assert base is not None
    base_accepted = base.status_code != 422
    # A role refused at the door (401/403: the permission is checked before the input is read) gets a
    # sample of each kind of junk, to show that the refusal still comes first; the full sweep is for the
    # roles that get through.
    full = base.status_code not in (401, 403)

    def some(values: list[Any]) -> list[Any]:
        return values if full else values[:2]

    if role == "admin":  # the credentials, once per operation (they do not depend on the role)
        for auth in BAD_AUTH:
            await sweep.send(f"Authorization {auth[:30]!r}", url, params=q, body=good_body, auth=auth)

    for name in path_params:
        for junk in some(JUNK_PATH):
            await sweep.send(f"path {name}={junk[:40]!r}", build_url(path, scene.ids, (name, junk)), params=q,
                             body=good_body)

    for p in query_params:
        for junk in some(JUNK_QUERY):
            await sweep.send(f"query {p['name']}={junk[:40]!r}", url, params={**base_query, p["name"]: junk},
                             body=good_body)
    if any(p["name"] == "page" for p in query_params):
        await sweep.send("query page=2**62, size=200", url, params={**base_query, "page": str(2**62),
                                                                    "size": "200"}, body=good_body)
    if not params and body_schema is None and not content:
        # No declared input: undeclared query parameters and a stray body are ignored, not a 500.
        await sweep.send("undeclared query", url, params={"page": str(2**70), "q": "a\x00b"})
        await sweep.send("stray body", url, body=b"{", content_type="application/json")

    if body_schema is not None:
        assert isinstance(base_body, dict)
        props: dict[str, Any] = body_schema.get("properties", {})
        for raw in some(JUNK_BODIES):
            await sweep.send(f"body {raw[:40]!r}", url, params=q, body=raw)
        await sweep.send("body as form data", url, params=q, body=b"a=1&b=2",
                         content_type="application/x-www-form-urlencoded")
        await sweep.send("body as text/plain", url, params=q, body=good_body, content_type="text/plain")
        await sweep.send("every field null", url, params=q, body=dumps(dict.fromkeys(props)))
        await sweep.send("unknown fields", url, params=q, body=dumps({**base_body, "zzz": LONG, "__proto__": {}}))
        for name, sub in props.items() if full else list(props.items())[:1]:
            for junk in some(JUNK_VALUES):
                # A 422 must name this field, unless the right shape itself is refused (or the JSON text is:
                # a lone surrogate is invalid JSON, refused as a whole).
                named = name if base_accepted and junk is not None and junk is not _SURROGATE else None
                await sweep.send(f"body {name}={str(junk)[:40]!r}", url, params=q,
                                 body=dumps({**base_body, name: junk}), sent_field=named)
            fmt = is_date(sub)
            if fmt is not None:  # the right shape with dates far in the past and the future
                for far in FAR_DATES if fmt == "date" else FAR_DATETIMES:
                    await sweep.send(f"body {name}={far}", url, params=q, body=dumps({**base_body, name: far}))
            if alternatives(sub)[0].get("type") == "array":
                for items in ([LONG], [2**63, -(2**70)], [{"a": 1}], list(range(5000))):
                    await sweep.send(f"body {name}=[{str(items[0])[:20]!r}, ...]", url, params=q,
                                     body=dumps({**base_body, name: items}))
        if full and "items" in props and isinstance(base_body.get("items"), list):
            # A batch: each item gets each field's junk (passages:batch answers every item on its own).
            item = base_body["items"][0]
            for key in item:
                for junk in JUNK_VALUES:
                    await sweep.send(f"batch item {key}={str(junk)[:40]!r}", url, params=q,
                                     body=dumps({"items": [{**item, key: junk}, item]}))

    if "multipart/form-data" in content:
        # Uploads (register import, paper-form import, QR photo): junk files and junk form fields.
        form = resolve(content["multipart/form-data"]["schema"])
        for name, sub in form.get("properties", {}).items():
            is_file = any(s.get("format") == "binary" or s.get("contentMediaType") for s in alternatives(sub))
            if is_file and (method, path) not in OWN_DATABASE_UPLOADS:
                for filename, data in some(JUNK_FILES):
                    await sweep.send(f"upload {name}={filename!r}", url, params=q,
                                     files={name: (filename, data, "application/octet-stream")})
            for junk in some(["", LONG, _NUL, str(2**70)]):
                await sweep.send(f"form {name}={junk[:40]!r} (not a file)", url, params=q,
                                 files={name: (None, junk.encode())})
        await sweep.send("multipart without a boundary", url, params=q, body=b"--x\r\n",
                         content_type="multipart/form-data")
        await sweep.send("multipart truncated", url, params=q,
                         body=b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nabc',
                         content_type="multipart/form-data; boundary=b")

    assert sweep.sent > 1
    assert not sweep.failures, f"{method} {path} as {role}: {len(sweep.failures)} bad answers of {sweep.sent}:\n" + (
        "\n".join(sweep.failures[:40]))


JUNK_FILES: list[tuple[str, bytes]] = [
    ("x.csv", b""), ("x.csv", b"\x00\xff" * 100), ("x.xlsx", b"PK\x03\x04junk"), ("a\x00b.csv", b"a,b\n1,2\n"),
    ("😀.png", b"\x89PNG\r\n\x1a\njunk"), ("../../x.csv", b"national_id\n1' OR '1'='1\n\x00\n"),
]


async def test_register_import_takes_junk_files_without_a_500(fresh_db: str, tmp_path: Path) -> None:
    """The register upload (see OWN_DATABASE_UPLOADS): each junk file is refused at once or becomes a job that
    ends, failed or done with its rows rejected, and whose status and error file are served."""
    import asyncio

    from dancu.core.db import Database

    settings = Settings(env="test", data_dir=tmp_path, database_url=fresh_db, log_json=False,
                        webhook_worker=False)
    db = Database(fresh_db)
    async with db.unit_of_work() as s:
        admin = await make_account(s, Role.ADMIN, "VN")
        headers = await bearer(s, admin)
    app = create_app(settings, db=db)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as c:
            sweep = Sweep(c, headers, "POST")
            for filename, data in JUNK_FILES:
                r = await sweep.send(f"upload {filename!r}", API + "/registry/imports",
                                     files={"file": (filename, data, "application/octet-stream")})
                if r is None or r.status_code >= 300:
                    continue
                job = r.json()
                sweep.method = "GET"
                for _ in range(200):
                    got = await sweep.send(f"job of {filename!r}", f"{API}/registry/imports/{job['id']}")
                    assert got is not None and got.status_code == 200, got and got.text
                    job = got.json()
                    if job["status"] not in ("queued", "running"):
                        break
                    await asyncio.sleep(0.02)
                assert job["status"] in ("done", "failed"), job
                await sweep.send(f"errors of {filename!r}", f"{API}/registry/imports/{job['id']}/errors.csv")
                sweep.method = "POST"
            assert not sweep.failures, "\n".join(sweep.failures)
    finally:
        await db.dispose()
