"""Queries of accounts, sessions, tokens and login attempts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.models import Account, ApiToken, LoginAttempt, WebSession
from dancu.core.db import detached, is_postgresql
from dancu.core.driver import driver
from dancu.units.models import Unit


async def by_username(session: AsyncSession, username: str) -> Account | None:
    return await session.scalar(select(Account).where(Account.username == username))


async def by_id(session: AsyncSession, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


async def by_person(session: AsyncSession, person_id: int) -> Account | None:
    return await session.scalar(select(Account).where(Account.person_id == person_id))


async def add(session: AsyncSession, obj: Account | WebSession | ApiToken | LoginAttempt) -> None:
    session.add(obj)
    await session.flush()


async def session_with_account(
    session: AsyncSession, token_hash: str, now: datetime
) -> tuple[WebSession, Account, Unit] | None:
    row = (
        await session.execute(
            select(WebSession, Account, Unit)
            .join(Account, Account.id == WebSession.account_id)
            .join(Unit, Unit.code == Account.unit_code)
            .where(
                WebSession.token_hash == token_hash,
                WebSession.revoked_at.is_(None),
                WebSession.expires_at > now,
                Account.is_active.is_(True),
            )
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def token_with_account(
    session: AsyncSession, token_hash: str, now: datetime
) -> tuple[ApiToken, Account, Unit] | None:
    """A valid token with its active account and the account's unit, for reading (on PostgreSQL through the
    driver, as `detached` objects in no session: the ORM's query cost ~2.5x the CPU; a cache miss of the
    bearer-token cache runs it on every first request of a citizen's app)."""
    if not is_postgresql(session):
        row = (await session.execute(_TOKEN_WITH_ACCOUNT, {"token_hash": token_hash, "now": now})).first()
        return (row[0], row[1], row[2]) if row else None
    found = await (await driver(session)).fetchrow(_PG_TOKEN_WITH_ACCOUNT, token_hash, now)
    if found is None:
        return None
    # The token's columns, then the account's, then the unit's: each zip stops at its model's last column
    # before it takes a value more from the row (the column names come first).
    values = iter(found.values())
    token, account, unit = (dict(zip(_COLUMNS[m], values, strict=False)) for m in (ApiToken, Account, Unit))
    return detached(ApiToken, token), detached(Account, account), detached(Unit, unit)


_COLUMNS: dict[type[Any], list[str]] = {m: [c.name for c in m.__table__.columns] for m in (ApiToken, Account, Unit)}
_PG_TOKEN_WITH_ACCOUNT = (
    "SELECT " + ", ".join(f"{alias}.{c}" for alias, m in (("t", ApiToken), ("a", Account), ("u", Unit))
                          for c in _COLUMNS[m])
    + " FROM api_tokens t JOIN accounts a ON a.id = t.account_id JOIN units u ON u.code = a.unit_code"
      " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)"
      " AND a.is_active"
)
# Built once: every API request with a bearer token runs it.
_TOKEN_WITH_ACCOUNT = (
    select(ApiToken, Account, Unit)
    .join(Account, Account.id == ApiToken.account_id)
    .join(Unit, Unit.code == Account.unit_code)
    .where(
        ApiToken.token_hash == bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > bindparam("now")),
        Account.is_active.is_(True),
    )
)


async def touch_tokens(session: AsyncSession, used: dict[int, datetime]) -> None:
    """Stamp the last use of many tokens at once (token id -> time), never moving a stamp back."""
    if used:  # one executemany, rows locked in id order (no deadlock between two batches)
        conn = await session.connection()
        await conn.execute(_TOUCH_TOKENS, [{"token_id": k, "when": v} for k, v in sorted(used.items())])


_PG_TOUCH_TOKENS = (
    "UPDATE api_tokens AS t SET last_used_at = u.used FROM unnest($1::int[], $2::timestamptz[]) AS u(id, used) "
    "WHERE t.id = u.id AND (t.last_used_at IS NULL OR t.last_used_at < u.used)"
)


async def pg_touch_tokens(pg: Any, used: dict[int, datetime]) -> None:
    """`touch_tokens` through the driver, in its transaction (a group-commit writer's own connection). The
    update locks the rows in the order of the ids given (sorted), as touch_tokens does."""
    if used:
        ids = sorted(used)
        await pg.execute(_PG_TOUCH_TOKENS, ids, [used[i] for i in ids])


_TOKENS = cast(Table, ApiToken.__table__)
_TOUCH_TOKENS = (
    update(_TOKENS)
    .where(_TOKENS.c.id == bindparam("token_id"),
           or_(_TOKENS.c.last_used_at.is_(None), _TOKENS.c.last_used_at < bindparam("when")))
    .values(last_used_at=bindparam("when"))
)


async def revoke_session(session: AsyncSession, token_hash: str, now: datetime) -> None:
    await session.execute(update(WebSession).where(WebSession.token_hash == token_hash).values(revoked_at=now))


async def failures_since(session: AsyncSession, kind: str, key: str, ip: str, since: datetime) -> tuple[int, int]:
    """Failed attempts since `since` for this key, and from this IP."""
    base = and_(LoginAttempt.kind == kind, LoginAttempt.success.is_(False), LoginAttempt.at > since)
    by_key = await session.scalar(select(func.count()).where(base, LoginAttempt.key == key)) or 0
    by_ip = await session.scalar(select(func.count()).where(base, LoginAttempt.ip == ip)) or 0
    return by_key, by_ip


async def tokens_of(session: AsyncSession, account_id: int) -> Sequence[ApiToken]:
    return (
        await session.scalars(select(ApiToken).where(ApiToken.account_id == account_id).order_by(ApiToken.id))
    ).all()


async def token_by_id(session: AsyncSession, token_id: int) -> ApiToken | None:
    return await session.get(ApiToken, token_id)


async def list_in_subtree(
    session: AsyncSession, unit_path: str, *, q: str | None, offset: int, limit: int
) -> tuple[Sequence[tuple[Account, Unit]], int]:
    where = [Unit.path.startswith(unit_path, autoescape=True)]
    if q:
        like = f"%{q.lower()}%"
        where.append(or_(func.lower(Account.username).like(like), func.lower(Account.display_name).like(like)))
    base = select(Account, Unit).join(Unit, Unit.code == Account.unit_code).where(*where)
    total = await session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = (await session.execute(base.order_by(Account.username).offset(offset).limit(limit))).all()
    return [(r[0], r[1]) for r in rows], total
