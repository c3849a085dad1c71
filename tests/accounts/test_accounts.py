"""Login, lockout, CSRF, citizen claims, account creation within the subtree, tokens."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Role
from tests.factories import (
    HANOI,
    HANOI_COMMUNE,
    PASSWORD,
    form_token,
    hcmc_commune,
    login,
    make_account,
    make_person,
)


async def test_login_sets_a_hardened_cookie_and_logout_revokes_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    account = await make_account(session, Role.OFFICIAL, HANOI)
    token = await form_token(client)
    r = await client.post("/login", data={"username": account.username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    csrf = await login(client, account.username)
    r = await client.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 303
    assert (await client.get("/staff")).status_code == 303  # back to the login page


async def test_lockout_after_repeated_failures(client: httpx.AsyncClient, session: AsyncSession) -> None:
    account = await make_account(session, Role.OFFICIAL, HANOI)
    token = await form_token(client)
    for _ in range(5):
        r = await client.post("/login", data={"username": account.username, "password": "wrong-password!",
                                              "csrf_token": token})
        assert r.status_code == 401
    r = await client.post("/login", data={"username": account.username, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 429  # even the right password is refused while locked


async def test_login_and_signup_forms_need_their_form_token(client: httpx.AsyncClient, session: AsyncSession) -> None:
    """Login CSRF: another site cannot post the log-in form in a visitor's browser (no form cookie, or a
    token that is not this cookie's), and the form cookie never travels cross-site."""
    account = await make_account(session, Role.OFFICIAL, HANOI)
    creds = {"username": account.username, "password": PASSWORD}
    r = await client.post("/login", data=creds)
    assert r.status_code == 403 and "The form has expired" in r.text and "dancu_session" not in r.headers.get(
        "set-cookie", "")
    token = await form_token(client)
    assert "samesite=strict" in (await client.get("/login")).headers.get("set-cookie", "samesite=strict").lower()
    r = await client.post("/login", data={**creds, "csrf_token": token[:-1] + ("0" if token[-1] != "0" else "1")})
    assert r.status_code == 403
    other = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)  # another browser
    async with other:
        r = await other.post("/login", data={**creds, "csrf_token": token})  # a token without its cookie
        assert r.status_code == 403
    r = await client.post("/signup", data={"national_id": "001090123456", "full_name": "X", "dob": "1990-01-01",
                                           "password": "long-enough-password"})
    assert r.status_code == 403 and "The form has expired" in r.text
    r = await client.post("/login", data={**creds, "csrf_token": token})
    assert r.status_code == 303


async def test_form_post_without_csrf_is_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    official = await make_account(session, Role.OFFICIAL, HANOI)
    await login(client, official.username)
    r = await client.post("/tokens", data={"name": "x"})
    assert r.status_code == 403


async def test_citizen_claim_generic_error_then_success(client: httpx.AsyncClient, session: AsyncSession) -> None:
    person = await make_person(session, full_name="Phạm Thị Lan", sex="F", dob=date(1992, 8, 9))
    good = {
        "national_id": person.national_id,
        "full_name": "pham thi lan",
        "dob": "1992-08-09",
        "password": "a-long-password-1",
    }
    wrong_dob = await client.post("/api/v1/auth/claim", json={**good, "dob": "1992-08-10"})
    wrong_name = await client.post("/api/v1/auth/claim", json={**good, "full_name": "Pham Thi Lam"})
    assert wrong_dob.status_code == wrong_name.status_code == 422
    assert wrong_dob.json()["message"] == wrong_name.json()["message"]
    ok = await client.post("/api/v1/auth/claim", json=good)
    assert ok.status_code == 201 and ok.json()["username"] == person.national_id
    again = await client.post("/api/v1/auth/claim", json=good)
    assert again.status_code == 422  # a record can be claimed once


async def test_official_creates_accounts_only_in_own_subtree(client: httpx.AsyncClient, session: AsyncSession) -> None:
    official = await make_account(session, Role.OFFICIAL, HANOI)
    csrf = await login(client, official.username)
    h = {"X-CSRF-Token": csrf}
    body = {
        "username": "officer.bd",
        "display_name": "Officer",
        "role": "checkpoint_officer",
        "unit_code": HANOI_COMMUNE,
        "password": "a-long-password-1",
    }
    assert (await client.post("/api/v1/accounts", json=body, headers=h)).status_code == 201
    outside = {**body, "username": "officer.hcm", "unit_code": await hcmc_commune(session)}
    r = await client.post("/api/v1/accounts", json=outside, headers=h)
    assert r.status_code == 403 and r.json()["field"] == "unit_code"
    admin_role = {**body, "username": "new.admin", "role": "admin"}
    assert (await client.post("/api/v1/accounts", json=admin_role, headers=h)).status_code == 403
    listed = (await client.get("/api/v1/accounts", params={"q": "officer"})).json()
    assert [a["username"] for a in listed["items"]] == ["officer.bd"]


async def device_token(client: httpx.AsyncClient, username: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A bearer token made by `username` on the tokens API (the token's JSON, its Authorization header); the
    client is logged out afterwards."""
    csrf = await login(client, username)
    created = (await client.post("/api/v1/tokens", json={"name": "device"}, headers={"X-CSRF-Token": csrf})).json()
    client.cookies.clear()
    return created, {"Authorization": f"Bearer {created['token']}"}


async def test_revoked_and_expired_tokens_are_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    official = await make_account(session, Role.OFFICIAL, HANOI)
    created, auth = await device_token(client, official.username)
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 200
    await login(client, official.username)
    page = await client.get("/tokens")
    csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    assert (
        await client.post(f"/api/v1/tokens/{created['id']}/revoke", headers={"X-CSRF-Token": csrf})
    ).status_code == 200
    client.cookies.clear()
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 401


async def test_a_bearer_token_s_last_use_is_stamped_coarsely(client: httpx.AsyncClient, session: AsyncSession) -> None:
    from datetime import timedelta

    from sqlalchemy import select, update

    from dancu.accounts.models import ApiToken
    from dancu.core.db import utcnow

    official = await make_account(session, Role.OFFICIAL, HANOI)
    created, auth = await device_token(client, official.username)

    async def last_used() -> object:
        return await session.scalar(select(ApiToken.last_used_at).where(ApiToken.id == created["id"]))

    assert await last_used() is None
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 200
    first = await last_used()
    assert first is not None and abs((utcnow() - first).total_seconds()) < 60  # type: ignore[operator]
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 200
    assert await last_used() == first  # within five minutes: no new write
    old = utcnow() - timedelta(minutes=10)
    await session.execute(update(ApiToken).where(ApiToken.id == created["id"]).values(last_used_at=old))
    assert (await client.get("/api/v1/me", headers=auth)).status_code == 200
    assert (await last_used()) > old  # type: ignore[operator]
