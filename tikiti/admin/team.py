"""The team page: who can sign in for this organizer, adding people and removing them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from aiohttp import web

from tikiti.admin import roles
from tikiti.admin.guard import sessions_for
from tikiti.admin.keys import VIEWER
from tikiti.admin.pages import redirect, render
from tikiti.core import users
from tikiti.core.errors import InvalidInput
from tikiti.core.models import Role
from tikiti.typedefs import DATABASE

logger = logging.getLogger(__name__)
DONE = {"added": "The new user can sign in now.", "removed": "The user was removed and signed out."}


def _form(data: Mapping[str, object]) -> dict[str, str]:
    return {name: str(data.get(name, "")).strip()[:400] for name in ("email", "name", "role")}


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput("choose a role from the list", field="role") from None


async def _page(
    request: web.Request,
    *,
    status: int = 200,
    message: str = "",
    form: dict[str, str] | None = None,
) -> web.Response:
    viewer = request[VIEWER]
    async with request.config_dict[DATABASE].read() as connection:
        members = await users.members(connection, viewer.organizer_id)
    context = {
        "members": members,
        "roles": list(roles.LABELS.items()),
        "message": message,
        "form": form or {"email": "", "name": "", "role": Role.BOX_OFFICE.value},
        "done": DONE.get(request.query.get("done", ""), ""),
    }
    return render(request, "admin/team.html", context, status=status)


async def page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def add(request: web.Request) -> web.StreamResponse:
    viewer = request[VIEWER]
    data = await request.post()
    form = _form(data)
    try:
        async with request.config_dict[DATABASE].transaction() as session:
            await users.add_user(
                session,
                organizer_id=viewer.organizer_id,
                email=form["email"],
                name=form["name"],
                role=parse_role(form["role"]),
                password=str(data.get("password", ""))[:1024],
                actor=viewer.email,
            )
    except InvalidInput as error:
        logger.info("admin: team add refused for %s: %s", viewer.email, error)
        return await _page(request, status=400, message=str(error), form=form)
    return redirect(request.app.router["team"].url_for().with_query(done="added"))


async def remove(request: web.Request) -> web.StreamResponse:
    viewer = request[VIEWER]
    user_id = int(request.match_info["user_id"])
    try:
        async with request.config_dict[DATABASE].transaction() as session:
            removed = await users.remove_user(
                session, organizer_id=viewer.organizer_id, user_id=user_id, actor=viewer
            )
    except InvalidInput as error:
        return await _page(request, status=400, message=str(error))
    await sessions_for(request).end_all(removed.id)
    return redirect(request.app.router["team"].url_for().with_query(done="removed"))
