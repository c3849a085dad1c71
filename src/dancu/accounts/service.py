"""Login, sessions, API tokens, citizen sign-up and account management."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts import repository as repo
from dancu.accounts.models import Account, ApiToken, LoginAttempt, WebSession
from dancu.accounts.permissions import CREATABLE_ROLES, Actor, Permission, Role, permissions_for
from dancu.accounts.schemas import AccountCreate, ClaimIn, TokenCreate
from dancu.accounts.security import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    new_token,
    token_hash,
    verify_password,
)
from dancu.audit.service import record_event
from dancu.config import Settings
from dancu.core.db import utcnow
from dancu.core.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthenticated, ValidationFailed
from dancu.core.text import fold
from dancu.registry import repository as registry_repo
from dancu.units import repository as units_repo
from dancu.units.models import Unit

CLAIM_FAILED = "The details do not match a register record, or this record already has an account."
LOGIN_FAILED = "Wrong username or password."
IP_FAILURE_LIMIT = 30


def actor_from(account: Account, unit: Unit, *, ip: str | None = None, request_id: str | None = None) -> Actor:
    role = Role(account.role)
    return Actor(
        account_id=account.id,
        username=account.username,
        display_name=account.display_name,
        role=role,
        unit_code=account.unit_code,
        unit_path=unit.path,
        person_id=account.person_id,
        ip=ip,
        request_id=request_id,
        permissions=permissions_for(role),
    )


def check_password_strength(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    if username and username.lower() in password.lower():
        raise ValidationFailed("The password must not contain the username.", field="password")


async def _throttle(session: AsyncSession, settings: Settings, kind: str, key: str, ip: str) -> None:
    since = utcnow() - timedelta(minutes=settings.login_window_minutes)
    by_key, by_ip = await repo.failures_since(session, kind, key, ip, since)
    if by_key >= settings.login_max_failures or by_ip >= IP_FAILURE_LIMIT:
        raise TooManyRequests(f"Too many failed attempts. Try again in {settings.login_window_minutes} minutes.")


async def _note_attempt(session: AsyncSession, kind: str, key: str, ip: str, success: bool) -> None:
    await repo.add(session, LoginAttempt(kind=kind, key=key, ip=ip, success=success))


async def login(session: AsyncSession, settings: Settings, username: str, password: str, ip: str) -> tuple[str, Actor]:
    """Check the password and open a web session; returns the session token (set as a cookie)."""
    username = username.strip().lower()
    await _throttle(session, settings, "login", username, ip)
    found = await repo.by_username(session, username)
    if not verify_password(found.password_hash if found else None, password) or not found or not found.is_active:
        await _note_attempt(session, "login", username, ip, False)
        raise Unauthenticated(LOGIN_FAILED)
    await _note_attempt(session, "login", username, ip, True)
    token = new_token("ses")
    now = utcnow()
    await repo.add(
        session,
        WebSession(
            token_hash=token_hash(token),
            account_id=found.id,
            created_at=now,
            expires_at=now + timedelta(hours=settings.session_hours),
        ),
    )
    unit = await units_repo.get(session, found.unit_code)
    assert unit is not None
    actor = actor_from(found, unit, ip=ip)
    await record_event(session, actor, "account:login", subject_type="account", subject_id=found.id)
    return token, actor


async def logout(session: AsyncSession, token: str) -> None:
    await repo.revoke_session(session, token_hash(token), utcnow())


async def actor_for_session(session: AsyncSession, token: str, ip: str, request_id: str | None) -> Actor | None:
    found = await repo.session_with_account(session, token_hash(token), utcnow())
    return actor_from(found[1], found[2], ip=ip, request_id=request_id) if found else None


# A token's last use is recorded coarsely, so the hot paths do not write on every request.
LAST_USED_STEP = timedelta(minutes=5)


async def actor_for_bearer(
    session: AsyncSession, token: str, ip: str, request_id: str | None,
    on_stamp: Callable[[int, datetime], None] | None = None,
) -> Actor | None:
    """The actor of a valid bearer token. A due last-use stamp is made in the caller's transaction, or
    handed to `on_stamp` (token id, time) for a caller that writes it elsewhere (accounts.bearer)."""
    now = utcnow()
    found = await repo.token_with_account(session, token_hash(token), now)
    if not found:
        return None
    api_token, account, unit = found
    if api_token.last_used_at is None or now - api_token.last_used_at > LAST_USED_STEP:
        if on_stamp is None:
            await repo.touch_tokens(session, {api_token.id: now})
        else:
            on_stamp(api_token.id, now)
    return actor_from(account, unit, ip=ip, request_id=request_id)


async def claim_record(session: AsyncSession, settings: Settings, data: ClaimIn, ip: str) -> Account:
    """A citizen claims their register record. One generic message for every mismatch."""
    key = token_hash(data.national_id.strip())
    await _throttle(session, settings, "claim", key, ip)
    person = await registry_repo.by_national_id_unscoped(session, data.national_id.strip())
    matches = (
        person is not None
        and fold(person.full_name) == fold(data.full_name)
        and person.dob == data.dob
        and person.status == "alive"
        and await repo.by_person(session, person.id) is None
    )
    if not matches or person is None:
        await _note_attempt(session, "claim", key, ip, False)
        raise ValidationFailed(CLAIM_FAILED)
    check_password_strength(data.password, person.national_id)
    await _note_attempt(session, "claim", key, ip, True)
    account = Account(
        username=person.national_id,
        display_name=person.full_name,
        password_hash=hash_password(data.password),
        role=Role.CITIZEN,
        unit_code=person.current_unit_code,
        person_id=person.id,
    )
    await repo.add(session, account)
    await record_event(
        session, None, "account:claim", person_id=person.id, subject_type="account", subject_id=account.id, ip=ip
    )
    return account


async def create_account(session: AsyncSession, actor: Actor, data: AccountCreate) -> Account:
    """Create a staff account inside the actor's own unit subtree."""
    if not actor.can(Permission.ACCOUNTS_MANAGE):
        raise Forbidden("You may not manage accounts.")
    allowed = CREATABLE_ROLES.get(actor.role, frozenset())
    if data.role not in allowed:
        raise Forbidden(f"You may not create accounts with the role {data.role}.", field="role")
    if data.role is Role.CITIZEN:
        raise ValidationFailed("Citizen accounts are created by claiming a register record.", field="role")
    unit = await units_repo.get(session, data.unit_code)
    if unit is None:
        raise ValidationFailed(f"Unknown unit code {data.unit_code}.", field="unit_code")
    if not unit.path.startswith(actor.unit_path):
        raise Forbidden("You may only create accounts within your own unit.", field="unit_code")
    if await repo.by_username(session, data.username) is not None:
        raise Conflict(f"The username {data.username} is taken.", field="username")
    check_password_strength(data.password, data.username)
    account = Account(
        username=data.username,
        display_name=data.display_name.strip(),
        password_hash=hash_password(data.password),
        role=data.role,
        unit_code=unit.code,
        created_by_id=actor.account_id,
    )
    await repo.add(session, account)
    await record_event(
        session,
        actor,
        "account:create",
        subject_type="account",
        subject_id=account.id,
        details={"role": str(data.role), "unit": unit.code},
    )
    return account


async def managed_account(session: AsyncSession, actor: Actor, account_id: int) -> Account:
    if not actor.can(Permission.ACCOUNTS_MANAGE):
        raise Forbidden("You may not manage accounts.")
    account = await repo.by_id(session, account_id)
    unit = await units_repo.get(session, account.unit_code) if account else None
    if account is None or unit is None:
        raise NotFound("No such account.")
    if not unit.path.startswith(actor.unit_path):
        raise Forbidden("This account is outside your unit.")
    return account


async def set_active(session: AsyncSession, actor: Actor, account_id: int, active: bool) -> Account:
    account = await managed_account(session, actor, account_id)
    if account.id == actor.account_id:
        raise ValidationFailed("You cannot deactivate your own account.")
    account.is_active = active
    await record_event(
        session,
        actor,
        "account:activate" if active else "account:deactivate",
        subject_type="account",
        subject_id=account.id,
    )
    return account


async def create_token(
    session: AsyncSession, actor: Actor, data: TokenCreate, now: datetime | None = None
) -> tuple[ApiToken, str]:
    """A bearer token for an API client or scanning device; the plain token is shown once."""
    target_id = data.account_id or actor.account_id
    if target_id != actor.account_id:
        await managed_account(session, actor, target_id)
    now = now or utcnow()
    plain = new_token("dct")
    token = ApiToken(
        account_id=target_id,
        name=data.name,
        token_hash=token_hash(plain),
        prefix=plain[:10],
        created_at=now,
        expires_at=now + timedelta(days=data.days) if data.days else None,
    )
    await repo.add(session, token)
    await record_event(
        session, actor, "token:create", subject_type="account", subject_id=target_id, details={"token_id": token.id}
    )
    return token, plain


async def revoke_token(session: AsyncSession, actor: Actor, token_id: int) -> ApiToken:
    token = await repo.token_by_id(session, token_id)
    if token is None:
        raise NotFound("No such token.")
    if token.account_id != actor.account_id:
        await managed_account(session, actor, token.account_id)
    token.revoked_at = token.revoked_at or utcnow()
    await record_event(
        session,
        actor,
        "token:revoke",
        subject_type="account",
        subject_id=token.account_id,
        details={"token_id": token.id},
    )
    return token


async def list_accounts(
    session: AsyncSession, actor: Actor, q: str | None, offset: int, limit: int
) -> tuple[list[tuple[Account, Unit]], int]:
    if not actor.can(Permission.ACCOUNTS_MANAGE):
        raise Forbidden("You may not manage accounts.")
    rows, total = await repo.list_in_subtree(session, actor.unit_path, q=q, offset=offset, limit=limit)
    return list(rows), total


async def ensure_account(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    unit_code: str,
    display_name: str,
    person_id: int | None = None,
) -> Account:
    """Create or reset a built-in account (demo seeding, `dancu accounts create-admin`)."""
    account = await repo.by_username(session, username)
    if account is None:
        account = Account(
            username=username, display_name=display_name, role=role, unit_code=unit_code, person_id=person_id
        )
        await repo.add(session, account)
    account.password_hash = hash_password(password)
    account.role, account.unit_code, account.is_active = role, unit_code, True
    account.display_name = display_name
    return account


async def get_web_session(session: AsyncSession, token: str) -> WebSession | None:
    found = await repo.session_with_account(session, token_hash(token), utcnow())
    return found[0] if found else None
