"""The gate scanners' HTTP API: check in online, fetch the offline bundle, sync, list conflicts."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import gate, gate_scans
from tikiti.core.errors import InvalidInput
from tikiti.core.gate import Conflict, GateAccess
from tikiti.typedefs import DATABASE

T = TypeVar("T")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tikiti-gate"'}


def _error(kind: type[web.HTTPException], message: str, **headers: str) -> web.HTTPException:
    body = json.dumps({"error": message})
    return kind(text=body, content_type="application/json", headers=headers or None)


def _bearer(request: web.Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _error(web.HTTPUnauthorized, "send Authorization: Bearer <gate token>", **_CHALLENGE)
    return token.strip()


async def _authorize(session: AsyncSession, token: str) -> GateAccess:
    access = await gate.authenticate(session, token)
    if access is None:
        raise _error(web.HTTPUnauthorized, "unknown or revoked gate token", **_CHALLENGE)
    return access


async def _parsed(request: web.Request, parse: Callable[[object], T]) -> T | InvalidInput:
    """Read now, judged after authentication, so strangers learn nothing from our 400s."""
    try:
        data = await request.json()
    except (ValueError, RecursionError):  # RecursionError: "[[[[…" nested past the limit
        return InvalidInput("the body must be JSON")
    try:
        return parse(data)
    except InvalidInput as error:
        return error


def _valid(parsed: T | InvalidInput) -> T:
    if isinstance(parsed, InvalidInput):
        raise _error(web.HTTPBadRequest, str(parsed))
    return parsed


async def checkin(request: web.Request) -> web.Response:
    token = _bearer(request)
    parsed = await _parsed(request, gate_scans.parse_scan)
    async with request.config_dict[DATABASE].transaction() as session:
        access = await _authorize(session, token)
        try:
            answer = await gate_scans.answer_scan(
                session, access, _valid(parsed), now=datetime.now(UTC)
            )
        except InvalidInput as error:  # a nonce already spent on another event's scan
            raise _error(web.HTTPBadRequest, str(error)) from None
    return web.json_response(answer)


async def sync(request: web.Request) -> web.Response:
    token = _bearer(request)
    parsed = await _parsed(request, gate_scans.parse_batch)
    database = request.config_dict[DATABASE]
    async with database.session() as session:
        access = await _authorize(session, token)
    scans = _valid(parsed)
    results = await gate_scans.sync_scans(database, access, scans, now=datetime.now(UTC))
    return web.json_response({"results": results})


async def bundle(request: web.Request) -> web.Response:
    token = _bearer(request)
    async with request.config_dict[DATABASE].transaction() as session:
        access = await _authorize(session, token)
        body = await gate.build_bundle(session, access, datetime.now(UTC))
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def _conflict_json(conflict: Conflict) -> dict[str, object]:
    return {
        "ticket_id": conflict.ticket_id,
        "code": conflict.code,
        "first": {"gate": conflict.first_gate, "at": conflict.first_at.isoformat()},
        "second": {"gate": conflict.second_gate, "at": conflict.second_at.isoformat()},
        "detected_at": conflict.detected_at.isoformat(),
    }


async def conflicts(request: web.Request) -> web.Response:
    token = _bearer(request)
    async with request.config_dict[DATABASE].session() as session:
        access = await _authorize(session, token)
        found = await gate.conflicts(session, access.event_id)
    return web.json_response({"conflicts": [_conflict_json(c) for c in found]})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/checkin", checkin, name="gate_checkin")
    app.router.add_get("/api/gate/bundle", bundle, name="gate_bundle")
    app.router.add_post("/api/gate/sync", sync, name="gate_sync")
    app.router.add_get("/api/gate/conflicts", conflicts, name="gate_conflicts")
