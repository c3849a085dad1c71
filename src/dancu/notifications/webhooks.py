"""Signed webhooks: a commune's own system receives each notice of its subtree as a signed JSON POST.

Payload (decided: the receiver is the commune's own case-management system, which must find the person):
the notice (id, kind, source, notified unit, travel date, origin and destination codes and names, the
origin province, checkpoint id and name, declaration/passage ids, created at) and the person's ID number
and full name — nothing else from the register (no date of birth, address, phone or health answers).

Signature: `X-Dancu-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` with the Unix
timestamp in `X-Dancu-Timestamp`; receivers recompute it over the raw body and reject old timestamps.
`X-Dancu-Delivery` is the delivery id: delivery is at least once, so receivers de-duplicate on it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor, Permission
from dancu.audit.service import record_event
from dancu.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from dancu.notifications import repository as repo
from dancu.notifications.models import Webhook
from dancu.notifications.schemas import WebhookCreate, WebhookCreated, WebhookOut
from dancu.notifications.service import invalidate_webhook_cache

MAX_ACTIVE_PER_UNIT = 5
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SIGNATURE_HEADER = "X-Dancu-Signature"
TIMESTAMP_HEADER = "X-Dancu-Timestamp"
DELIVERY_HEADER = "X-Dancu-Delivery"


# --- signing --------------------------------------------------------------------------------------

def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(secret: str, signature: str, timestamp: str, body: bytes, *, now: float | None = None,
                     tolerance: int = 300) -> bool:
    """What a receiver does: recompute the HMAC over the raw body and refuse stale timestamps."""
    try:
        ts = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, ts, body), signature)


def signed_headers(secret: str, body: bytes, delivery_id: int,
                   timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "dancu-webhooks/1",
        SIGNATURE_HEADER: sign(secret, ts, body),
        TIMESTAMP_HEADER: str(ts),
        DELIVERY_HEADER: str(delivery_id),
    }


def payload(delivery_id: int, row: repo.NoticeRow) -> bytes:
    n, person_name, national_id, origin_name, destination_name, checkpoint_name = row
    body: dict[str, Any] = {
        "event": f"notice.{n.kind}",
        "delivery_id": delivery_id,
        "notice": {
            "id": n.id, "kind": n.kind, "source": n.source, "unit_code": n.unit_code,
            "travel_date": n.travel_date.isoformat(),
            "origin": {"code": n.origin_unit_code, "name": origin_name, "province": n.origin_province},
            "destination": {"code": n.destination_unit_code, "name": destination_name},
            "checkpoint": {"id": n.checkpoint_id, "name": checkpoint_name} if n.checkpoint_id else None,
            "declaration_id": n.declaration_id, "passage_id": n.passage_id,
            "created_at": n.created_at.isoformat(),
        },
        "person": {"national_id": national_id, "full_name": person_name},
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


# --- subscriptions --------------------------------------------------------------------------------

def validate_url(url: str, *, allow_loopback_http: bool) -> str:
    """https:// only; http:// to 127.0.0.1/localhost only outside production (tests and development)."""
    url = url.strip()
    if any(c.isspace() for c in url) or len(url) > 500:
        raise ValidationFailed("Give a full https:// URL.", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ValidationFailed("Give a full https:// URL.", field="url") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValidationFailed("Give a full https:// URL.", field="url")
    if parts.username or parts.password or parts.fragment:
        raise ValidationFailed("The URL must not contain a user name, password or #fragment.", field="url")
    if parts.scheme == "http" and not (allow_loopback_http and parts.hostname in LOOPBACK_HOSTS):
        raise ValidationFailed("The URL must start with https://.", field="url")
    return url


def _require(actor: Actor) -> None:
    if not actor.can(Permission.WEBHOOKS_MANAGE):
        raise Forbidden("Your role does not allow this.")


def _out(hook: Webhook, counts: dict[tuple[int, str], int]) -> WebhookOut:
    return WebhookOut(id=hook.id, unit_code=hook.unit_code, url=hook.url, active=hook.active,
                      created_at=hook.created_at, pending=counts.get((hook.id, "pending"), 0),
                      delivered=counts.get((hook.id, "delivered"), 0),
                      failed=counts.get((hook.id, "failed"), 0))


async def create_webhook(session: AsyncSession, actor: Actor, data: WebhookCreate, *,
                         allow_loopback_http: bool) -> WebhookCreated:
    """Register a URL for a unit of the actor's subtree. The secret is returned here and never again."""
    _require(actor)
    url = validate_url(data.url, allow_loopback_http=allow_loopback_http)
    unit_code = data.unit_code or actor.unit_code
    if await repo.unit_in_subtree(session, unit_code, actor.unit_path) is None:
        raise Forbidden("This unit is outside your jurisdiction.", field="unit_code")
    if await repo.count_active_webhooks(session, unit_code) >= MAX_ACTIVE_PER_UNIT:
        raise Conflict("This unit already has {n} active webhooks; deactivate one first.", field="url",
                       params={"n": MAX_ACTIVE_PER_UNIT})
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = await repo.add_webhook(session, Webhook(unit_code=unit_code, url=url, secret=secret, active=True,
                                                   created_by_id=actor.account_id))
    await record_event(session, actor, "webhook:create", subject_type="webhook", subject_id=hook.id,
                       details={"unit": unit_code, "url": url})
    invalidate_webhook_cache()
    return WebhookCreated(**_out(hook, {}).model_dump(), secret=secret)


async def list_webhooks(session: AsyncSession, actor: Actor) -> list[WebhookOut]:
    _require(actor)
    hooks = await repo.webhooks_in_subtree(session, actor.unit_path)
    counts = await repo.delivery_counts(session, [h.id for h in hooks])
    return [_out(h, counts) for h in hooks]


async def deactivate_webhook(session: AsyncSession, actor: Actor, webhook_id: int) -> WebhookOut:
    """Stop deliveries to a webhook (idempotent). Pending deliveries are then given up by the worker."""
    _require(actor)
    hook = await repo.get_webhook_in_subtree(session, webhook_id, actor.unit_path)
    if hook is None:
        raise NotFound("No webhook with this identifier in your jurisdiction.")
    if hook.active:
        hook.active = False
        await session.flush()
        await record_event(session, actor, "webhook:deactivate", subject_type="webhook", subject_id=hook.id,
                           details={"unit": hook.unit_code, "url": hook.url})
        invalidate_webhook_cache()
    counts = await repo.delivery_counts(session, [hook.id])
    return _out(hook, counts)
