"""The scanning-device contract: scan (records nothing), passages (idempotent), batches (per item)."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from dancu.audit.models import AuditEvent
from dancu.checkpoints.models import Passage, PassageCount
from dancu.core.db import utcnow
from dancu.notifications.models import Notice
from tests.checkpoints.conftest import (
    Scene,
    bearer,
    make_account,
    make_checkpoint,
    make_declaration,
    passage,
    post_passage,
)
from tests.factories import HANOI_COMMUNE, make_person


async def count(session: AsyncSession, model: type[object], *where: object) -> int:
    return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


async def test_scan_shows_the_verdict_and_what_to_compare_but_records_nothing(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    r = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/scan", json={"code": scene.code}, headers=scene.headers
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "green" and body["reason"] == "valid" and body["kind"] == "travel_pass"
    assert body["holder"] == {
        "full_name": "Trần Thị Bình",
        "dob": "1991-04-02",
        "birth_year": 1991,
        "id_last4": scene.person.national_id[-4:],
    }
    assert body["origin_unit_code"] == HANOI_COMMUNE and body["origin_name"]
    assert body["destination_unit_code"] == scene.destination and body["destination_name"]
    assert body["valid_until"] and "permanent_address" not in r.text and scene.person.national_id not in r.text
    assert await count(session, Passage) == 0
    # The name and date of birth were shown to staff: an audited read, naming the person.
    assert (
        await count(session, AuditEvent, AuditEvent.action == "pass:scan", AuditEvent.person_id == scene.person.id) == 1
    )


async def test_confirm_records_once_with_notices_and_counts(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    body = passage(scene.code, method="usb", device="phone-7")
    r = await post_passage(client, scene, body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["status"] == "created" and out["detail"] == "recorded"
    p = out["passage"]
    assert p["verdict"] == "green" and p["decision"] == "confirm" and p["method"] == "usb"
    assert p["idempotency_key"] == body["idempotency_key"] and p["officer_id"] == scene.officer.id
    row = await session.get(Passage, p["id"])
    assert row is not None
    assert (row.person_id, row.declaration_id, row.pass_id) == (
        scene.person.id,
        scene.declaration.id,
        scene.declaration.pass_id,
    )
    assert (row.origin_unit_code, row.destination_unit_code, row.device) == (
        HANOI_COMMUNE,
        scene.destination,
        "phone-7",
    )
    notices = (await session.scalars(select(Notice).where(Notice.passage_id == row.id))).all()
    assert sorted(n.kind for n in notices) == ["arrival", "departure"]
    assert {n.checkpoint_id for n in notices} == {scene.checkpoint.id}
    counts = await session.scalars(select(PassageCount).where(PassageCount.checkpoint_id == scene.checkpoint.id))
    [c] = counts.all()
    assert (c.count, c.decision, c.reason, c.origin_province, c.green_lane) == (1, "confirm", "", "01", False)
    event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "passage:record"))
    assert event is not None and event.details is not None and event.details["passages"] == [row.id]


async def test_retry_with_the_same_key_records_exactly_once(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    """A network failure between scan and confirm: the device retries the same item, then sends its queue."""
    body = passage(scene.code)
    first = await post_passage(client, scene, body)
    again = await post_passage(client, scene, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["status"] == "duplicate" and again.json()["detail"] == "idempotency_key_reused"
    assert again.json()["passage"]["id"] == first.json()["passage"]["id"]
    batch = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/passages:batch", json={"items": [body, body]}, headers=scene.headers
    )
    assert batch.status_code == 200, batch.text
    assert [i["status"] for i in batch.json()["items"]] == ["duplicate", "duplicate"]
    assert {i["passage"]["id"] for i in batch.json()["items"]} == {first.json()["passage"]["id"]}
    assert await count(session, Passage) == 1
    assert await session.scalar(select(func.sum(PassageCount.count))) == 1
    assert await count(session, Notice) == 2


async def test_same_pass_twice_within_a_minute_warns_and_does_not_duplicate(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    first = await post_passage(client, scene, passage(scene.code))
    assert first.status_code == 201
    scan = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/scan", json={"code": scene.code}, headers=scene.headers
    )
    assert scan.json()["verdict"] == "amber" and scan.json()["already_scanned"] is True
    assert scan.json()["reason"] == "already_scanned" and scan.json()["holder"]["full_name"] == "Trần Thị Bình"
    second = await post_passage(client, scene, passage(scene.code))
    assert second.status_code == 200
    assert second.json()["detail"] == "already_scanned"
    assert second.json()["passage"]["id"] == first.json()["passage"]["id"]
    assert await count(session, Passage) == 1
    # Another checkpoint, or a minute later, is a new passage.
    other = await make_checkpoint(session, officers=(scene.officer,))
    assert (await post_passage(client, scene, passage(scene.code), other.id)).status_code == 201
    later = (utcnow() + timedelta(seconds=61)).isoformat()
    assert (await post_passage(client, scene, passage(scene.code, scanned_at=later))).status_code == 201
    assert await count(session, Passage) == 3


async def test_refusal_needs_a_reason_and_counts_by_reason(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    missing = await post_passage(client, scene, passage(scene.code, decision="refuse"))
    assert missing.status_code == 422 and "reason" in missing.json()["message"]
    unknown = await post_passage(client, scene, passage(scene.code, decision="refuse", reason="bored"))
    assert unknown.status_code == 422
    ok = await post_passage(
        client, scene, passage(scene.code, decision="refuse", reason="symptoms", reason_text="fever 38.5")
    )
    assert ok.status_code == 201, ok.text
    row = await session.get(Passage, ok.json()["passage"]["id"])
    assert row is not None and (row.reason, row.reason_text, row.verdict) == ("symptoms", "fever 38.5", "green")
    assert await count(session, Notice) == 0  # a refused person did not travel
    c = await session.scalar(select(PassageCount).where(PassageCount.reason == "symptoms"))
    assert c is not None and c.decision == "refuse" and c.count == 1


async def test_field_checks(client: httpx.AsyncClient, session: AsyncSession, scene: Scene) -> None:
    cases = {
        "future": passage(scene.code, scanned_at=(utcnow() + timedelta(minutes=10)).isoformat()),
        "old": passage(scene.code, scanned_at=(utcnow() - timedelta(days=8)).isoformat()),
        "naive time": passage(scene.code, scanned_at="2026-01-01T08:00:00"),
        "short key": passage(scene.code, idempotency_key="abc1234"),
        "long key": passage(scene.code, idempotency_key="k" * 65),
        "bad method": passage(scene.code, method="telepathy"),
        "bad direction": passage(scene.code, direction="up"),
        "reason on confirm": passage(scene.code, reason="other"),
        "unknown field": passage(scene.code, extra=1),
    }
    for name, body in cases.items():
        r = await post_passage(client, scene, body)
        assert r.status_code == 422, (name, r.text)
        assert r.json()["error"] == "validation_failed", name
    assert await count(session, Passage) == 0


async def test_bad_codes_are_recorded_with_a_red_verdict(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    r = await post_passage(client, scene, passage("HC1:NCFOXN%TS3DH", decision="refuse", reason="no_pass"))
    assert r.status_code == 201
    assert r.json()["passage"]["verdict"] == "red" and r.json()["passage"]["code_kind"] == "unrecognised"
    scan = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/scan", json={"code": "HC1:NCFOXN%TS3DH"}, headers=scene.headers
    )
    assert scan.json()["verdict"] == "red" and scan.json()["reason"] == "hc1"


async def test_revoked_and_expired_passes_scan_red(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    person = await make_person(session, full_name="Phạm Văn Cường")
    revoked = await make_declaration(session, person, scene.keyring, destination=scene.destination, status="revoked")
    expired = await make_declaration(
        session, person, scene.keyring, destination=scene.destination, issued_at=utcnow() - timedelta(hours=80)
    )
    for code, reason in ((revoked.pass_code, "revoked"), (expired.pass_code, "expired")):
        r = await client.post(
            f"/api/v1/checkpoints/{scene.checkpoint.id}/scan", json={"code": code}, headers=scene.headers
        )
        assert (r.json()["verdict"], r.json()["reason"]) == ("red", reason)
        assert r.json()["suggested_refusal"] == reason


async def test_officer_not_assigned_here_gets_403(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    elsewhere = await make_checkpoint(session)
    for path in ("scan", "passages"):
        r = await client.post(
            f"/api/v1/checkpoints/{elsewhere.id}/{path}", json=passage(scene.code), headers=scene.headers
        )
        assert r.status_code == 403, r.text
    batch = await client.post(
        f"/api/v1/checkpoints/{elsewhere.id}/passages:batch",
        json={"items": [passage(scene.code)]},
        headers=scene.headers,
    )
    assert batch.status_code == 403
    denied = await count(session, AuditEvent, AuditEvent.action == "checkpoint:scan", AuditEvent.outcome == "denied")
    assert denied == 1  # once: the answer is cached for a few seconds
    assert (
        await client.post("/api/v1/checkpoints/999999/scan", json={"code": "x"}, headers=scene.headers)
    ).status_code == 404
    inactive = await make_checkpoint(session, active=False, officers=(scene.officer,))
    r = await client.post(f"/api/v1/checkpoints/{inactive.id}/scan", json={"code": "x"}, headers=scene.headers)
    assert r.status_code == 403 and "not active" in r.json()["message"]
    assert await count(session, Passage) == 0


async def test_only_checkpoint_officers_record_and_tokens_are_checked(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    official_headers = await bearer(session, scene.official)
    r = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/passages", json=passage(scene.code), headers=official_headers
    )
    assert r.status_code == 403
    bad = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/passages",
        json=passage(scene.code),
        headers={"Authorization": "Bearer dct_not-a-token"},
    )
    assert bad.status_code == 401
    anonymous = await client.post(f"/api/v1/checkpoints/{scene.checkpoint.id}/passages", json=passage(scene.code))
    assert anonymous.status_code == 401


async def test_a_key_used_by_another_officer_is_a_conflict(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    body = passage(scene.code)
    assert (await post_passage(client, scene, body)).status_code == 201
    other = await make_account(session, Role.CHECKPOINT_OFFICER, HANOI_COMMUNE)
    await make_checkpoint(session, officers=(other,))
    from dancu.checkpoints.models import CheckpointAssignment

    session.add(CheckpointAssignment(checkpoint_id=scene.checkpoint.id, account_id=other.id))
    await session.flush()
    r = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/passages", json=body, headers=await bearer(session, other)
    )
    assert r.status_code == 409 and r.json()["field"] == "idempotency_key"
    assert await count(session, Passage) == 1


async def test_batch_answers_per_item(client: httpx.AsyncClient, session: AsyncSession, scene: Scene) -> None:
    person = await make_person(session, full_name="Vũ Thị Dung")
    second = await make_declaration(session, person, scene.keyring, destination=scene.destination)
    replayed = passage(scene.code)
    assert (await post_passage(client, scene, replayed)).status_code == 201
    repeated = passage(second.pass_code)
    items = [
        replayed,  # 0 duplicate (key used before)
        repeated,  # 1 created
        repeated,  # 2 duplicate (same key in batch)
        passage(second.pass_code, decision="refuse"),  # 3 error: no reason
        passage(scene.code, idempotency_key="short"),  # 4 error: key too short
        passage(second.pass_code, scanned_at=(utcnow() - timedelta(days=9)).isoformat()),  # 5 error: too old
        "not an object",  # 6 error
        passage("garbage", decision="refuse", reason="no_pass"),  # 7 created (red)
        passage(second.pass_code),  # 8 duplicate: already scanned (item 1)
    ]
    r = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/passages:batch", json={"items": items}, headers=scene.headers
    )
    assert r.status_code == 200, r.text
    out = r.json()
    statuses = [(i["index"], i["status"]) for i in out["items"]]
    assert statuses == [
        (0, "duplicate"),
        (1, "created"),
        (2, "duplicate"),
        (3, "error"),
        (4, "error"),
        (5, "error"),
        (6, "error"),
        (7, "created"),
        (8, "duplicate"),
    ]
    by_index = {i["index"]: i for i in out["items"]}
    assert by_index[2]["passage"]["id"] == by_index[1]["passage"]["id"]
    assert by_index[8]["detail"] == "already_scanned" and by_index[8]["passage"]["id"] == by_index[1]["passage"]["id"]
    assert by_index[3]["field"] and "reason" in by_index[3]["message"]
    assert by_index[4]["field"] == "idempotency_key" and by_index[5]["field"] == "scanned_at"
    assert (out["created"], out["duplicate"], out["error"]) == (2, 3, 4)
    assert await count(session, Passage) == 3
    assert await session.scalar(select(func.sum(PassageCount.count))) == 3


async def test_batch_size_limit(client: httpx.AsyncClient, scene: Scene) -> None:
    too_many = {"items": [passage(scene.code) for _ in range(1001)]}
    r = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/passages:batch", json=too_many, headers=scene.headers
    )
    assert r.status_code == 422 and r.json()["field"] == "items"
    empty = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/passages:batch", json={"items": []}, headers=scene.headers
    )
    assert empty.status_code == 422


async def test_a_full_batch_of_distinct_passes(client: httpx.AsyncClient, session: AsyncSession, scene: Scene) -> None:
    people = [await make_person(session, full_name=f"Người Thứ {i}") for i in range(40)]
    codes = [
        (await make_declaration(session, p, scene.keyring, destination=scene.destination)).pass_code for p in people
    ]
    items = [passage(c) for c in codes]
    r = await client.post(
        f"/api/v1/checkpoints/{scene.checkpoint.id}/passages:batch", json={"items": items}, headers=scene.headers
    )
    assert r.json()["created"] == 40
    assert await count(session, Passage) == 40
    assert await count(session, Notice) == 80
    events = (await session.scalars(select(AuditEvent).where(AuditEvent.action == "passage:record"))).all()
    assert len(events) == 1 and len(events[0].details["passages"]) == 40  # type: ignore[index]


async def test_a_replayed_refusal_is_found_by_its_key(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    """Refusals are not "already scanned": a replay is caught by the insert's ON CONFLICT on the key."""
    body = passage("not a pass", decision="refuse", reason="no_pass")
    first = await post_passage(client, scene, body)
    again = await post_passage(client, scene, body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["detail"] == "idempotency_key_reused"
    assert again.json()["passage"]["id"] == first.json()["passage"]["id"]
    other = await make_checkpoint(session, officers=(scene.officer,))
    moved = await post_passage(client, scene, body, other.id)
    assert moved.status_code == 409  # the key belongs to a passage at another checkpoint
    assert await count(session, Passage) == 1


async def test_nul_in_a_passages_free_text_is_that_fields_422_and_records_nothing(
    client: httpx.AsyncClient, session: AsyncSession, scene: Scene
) -> None:
    # The device routes answer on the lean path, before the middleware that refuses NUL elsewhere.
    cases = [
        ({"decision": "refuse", "reason": "other", "reason_text": "no\x00te"}, "reason_text"),
        ({"device": "phone\x007"}, "device"),
    ]
    for extra, field in cases:
        r = await post_passage(client, scene, passage(scene.code, **extra))
        assert r.status_code == 422, r.text
        assert r.json()["field"] == field
        batch = await client.post(f"/api/v1/checkpoints/{scene.checkpoint.id}/passages:batch",
                                  json={"items": [passage(scene.code, **extra)]}, headers=scene.headers)
        assert batch.status_code == 200, batch.text
        [item] = batch.json()["items"]
        assert item["status"] == "error" and field in item["message"], item
    assert await count(session, Passage) == 0
