"""The one gate every admin route passes: who is asking, did the form come from us, may they.

Each route in the table is wrapped by `guarded(allow, handler)`, so a new route cannot forget
the session, the CSRF check or its role rule.
"""

from __future__ import annotations

import logging

from aiohttp import web

from tikiti.admin import csrf
from tikiti.admin.keys import SESSION, VIEWER
from tikiti.admin.pages import Handler, error_page, forbidden, redirect
from tikiti.admin.roles import Allow
from tikiti.admin.sessions import COOKIE, Session, Sessions
from tikiti.core import users
from tikiti.core.users import Member
from tikiti.typedefs import DATABASE, REDIS, SETTINGS

logger = logging.getLogger(__name__)


def sessions_for(request: web.Request) -> Sessions:
    return Sessions(request.config_dict[REDIS], request.config_dict[SETTINGS].redis_prefix)


def secure_cookies(request: web.Request) -> bool:
    return request.config_dict[SETTINGS].public_url.startswith("https://")


async def identify(request: web.Request) -> tuple[Session, Member] | None:
    """The live session behind the cookie and its user as they are now (role, organizer)."""
    raw_id = request.cookies.get(COOKIE)
    if not raw_id:
        return None
    sessions = sessions_for(request)
    session = await sessions.load(raw_id)
    if session is None:
        return None
    async with request.config_dict[DATABASE].read() as connection:
        member = await users.member(connection, session.user_id)
    if member is None:  # removed while signed in
        await sessions.end(session)
        return None
    return session, member


async def _form_is_ours(request: web.Request, session: Session | None) -> bool:
    expected = session.csrf if session else request.cookies.get(csrf.LOGIN_COOKIE)
    return csrf.matches(expected, await csrf.submitted(request))


def _to_login(request: web.Request) -> web.Response:
    login = request.app.router["login"].url_for()
    return redirect(login.with_query(next=request.path_qs), status=302)


def guarded(allow: Allow, handler: Handler) -> Handler:
    async def guard(request: web.Request) -> web.StreamResponse:
        found = await identify(request)
        session, viewer = found if found else (None, None)
        if session and viewer:
            request[SESSION], request[VIEWER] = session, viewer
        if request.method == "POST" and not await _form_is_ours(request, session):
            logger.warning("admin: CSRF check failed on %s from %s", request.path, request.remote)
            return error_page(
                request, 403, "This form has expired", "Go back, reload the page and try again."
            )
        if not allow.permits(viewer.role if viewer else None):
            if viewer is None and request.method == "GET":
                return _to_login(request)
            return forbidden(request)
        return await handler(request)

    return guard
