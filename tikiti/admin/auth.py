"""Signing in and out: the login form, lockout, sessions, and "sign out everywhere"."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from functools import cache

from aiohttp import web

from tikiti.admin import csrf, roles
from tikiti.admin.guard import secure_cookies, sessions_for
from tikiti.admin.keys import SESSION, VIEWER
from tikiti.admin.lockout import LoginThrottle, minutes_left
from tikiti.admin.pages import redirect, render
from tikiti.admin.sessions import COOKIE, IDLE_SECONDS
from tikiti.core import audit, users
from tikiti.typedefs import DATABASE, REDIS, SETTINGS

logger = logging.getLogger(__name__)
DONE = {"out": "You are signed out.", "everywhere": "You are signed out on every device."}


@cache
def _decoy_hash() -> str:
    """Checked when nobody has the email typed, so a miss takes as long as a wrong password."""
    return users.hash_password("decoy-password-never-valid")


def _set_cookie(request: web.Request, response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=IDLE_SECONDS,
        path=request.app.router["dashboard"].url_for().path,
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(request),
    )


def _clear_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=request.app.router["dashboard"].url_for().path)


def _safe_next(request: web.Request, wanted: str) -> str | None:
    """Only a path inside the admin, so the login cannot be used to send people elsewhere."""
    prefix = request.app.router["dashboard"].url_for().path
    if wanted.startswith(prefix) and not wanted.startswith("//") and "\\" not in wanted:
        return wanted
    return None


def _login_form(
    request: web.Request, *, status: int = 200, message: str = "", email: str = ""
) -> web.Response:
    token = request.cookies.get(csrf.LOGIN_COOKIE) or csrf.new_token()
    context = {
        "message": message,
        "email": email,
        "next": request.query.get("next", ""),
        "done": DONE.get(request.query.get("done", ""), ""),
        "login_token": token,
    }
    response = render(request, "admin/login.html", context, status=status)
    if request.cookies.get(csrf.LOGIN_COOKIE) != token:
        _set_cookie(request, response, csrf.LOGIN_COOKIE, token)
    return response


async def login_page(request: web.Request) -> web.StreamResponse:
    if viewer := request.get(VIEWER):
        return redirect(request.app.router[roles.home(viewer.role)].url_for(), status=302)
    return _login_form(request)


async def _password_ok(password_hash: str | None, password: str) -> bool:
    """argon2 takes tens of milliseconds of CPU: done off the event loop."""
    loop = asyncio.get_running_loop()
    hashed = password_hash or _decoy_hash()
    ok = await loop.run_in_executor(None, users.password_matches, hashed, password)
    return ok and password_hash is not None


async def _note_failure(request: web.Request, user_id: int | None, email: str) -> None:
    logger.warning("admin: failed sign-in for %r from %s", email, request.remote)
    if user_id is None:
        return
    async with request.config_dict[DATABASE].transaction() as session:
        member = await users.member(session, user_id)
        if member is not None:
            await audit.record(
                session,
                organizer_id=member.organizer_id,
                actor=email,
                action="user.login_failed",
                entity="user",
                entity_id=user_id,
                data={"ip": request.remote or ""},
            )


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    email = str(form.get("email", "")).strip().lower()[:320]
    password = str(form.get("password", ""))[:1024]
    address = request.remote or "unknown"
    throttle = LoginThrottle(request.config_dict[REDIS], request.config_dict[SETTINGS].redis_prefix)
    if not email or not password or not email.isprintable():
        return _login_form(request, status=400, message="Type your email and your password.")
    if (wait := await throttle.refused(email, address)) is not None:
        logger.warning("admin: sign-in refused during lockout for %r from %s", email, address)
        message = (
            "Too many failed sign-ins. For safety, signing in is paused for "
            f"{minutes_left(wait)} more minutes."
        )
        return _login_form(request, status=429, message=message, email=email)
    async with request.config_dict[DATABASE].read() as connection:
        found = await users.by_email(connection, email)
    if not await _password_ok(found[1] if found else None, password):
        await throttle.failed(email, address)
        await _note_failure(request, found[0] if found else None, email)
        return _login_form(request, status=400, message="Email or password is wrong.", email=email)
    await throttle.succeeded(email)
    assert found is not None
    raw_id, _ = await sessions_for(request).start(found[0])
    async with request.config_dict[DATABASE].transaction() as session:
        member = await users.signed_in(session, found[0], at=datetime.now(UTC), ip=address)
    home = request.app.router[roles.home(member.role)].url_for().path
    response = redirect(_safe_next(request, str(form.get("next", ""))) or home)
    _set_cookie(request, response, COOKIE, raw_id)
    _clear_cookie(request, response, csrf.LOGIN_COOKIE)
    return response


async def _audit_own(request: web.Request, action: str, data: dict[str, object]) -> None:
    viewer = request[VIEWER]
    async with request.config_dict[DATABASE].transaction() as session:
        await audit.record(
            session,
            organizer_id=viewer.organizer_id,
            actor=viewer.email,
            action=action,
            entity="user",
            entity_id=viewer.id,
            data=data,
        )


def _signed_out(request: web.Request, done: str) -> web.Response:
    response = redirect(request.app.router["login"].url_for().with_query(done=done))
    _clear_cookie(request, response, COOKIE)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    await sessions_for(request).end(request[SESSION])
    await _audit_own(request, "user.logout", {})
    return _signed_out(request, "out")


async def logout_everywhere(request: web.Request) -> web.StreamResponse:
    ended = await sessions_for(request).end_all(request[VIEWER].id)
    await _audit_own(request, "user.logout_everywhere", {"sessions": ended})
    return _signed_out(request, "everywhere")


async def account(request: web.Request) -> web.StreamResponse:
    return render(request, "admin/account.html")
