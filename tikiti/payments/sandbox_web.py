"""HTTP face of the sandbox operator: the merchant API and the payer's phone."""

from __future__ import annotations

import hmac
import json
import logging
import re

from aiohttp import web

from tikiti.payments.sandbox_operator import Operator

logger = logging.getLogger(__name__)
OPERATOR = web.AppKey("sandbox_operator", Operator)
PHONE = re.compile(r"^\+\d{8,15}$")
REQUIRED = ("reference", "amount_minor", "currency", "phone", "callback_url")


def _bad(reason: str, status: int = 400) -> web.Response:
    logger.info("sandbox refused a request: %s", reason)
    return web.json_response({"error": reason}, status=status)


def _authorised(request: web.Request) -> bool:
    expected = f"Bearer {request.config_dict[OPERATOR].config.api_key}"
    return hmac.compare_digest(request.headers.get("Authorization", ""), expected)


async def _json(request: web.Request) -> dict[str, object] | None:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _push_fields(body: dict[str, object]) -> dict[str, str] | str:
    missing = [k for k in REQUIRED if not body.get(k)]
    if missing:
        return "missing " + ", ".join(missing)
    fields = {k: str(v) for k, v in body.items() if isinstance(v, str | int | float)}
    if not fields["amount_minor"].isdigit() or int(fields["amount_minor"]) <= 0:
        return "amount_minor must be a positive whole number"
    if not PHONE.match(fields["phone"]):
        return "phone must be in +E.164 form"
    try:
        fields["approve_after"] = str(float(fields.get("approve_after", "0")))
        fields["timeout"] = str(float(fields.get("timeout", "120")))
        fields["failure_rate"] = str(min(max(float(fields.get("failure_rate", "0")), 0.0), 1.0))
    except ValueError:
        return "approve_after, timeout and failure_rate must be numbers"
    return fields


async def create_push(request: web.Request) -> web.Response:
    if not _authorised(request):
        return _bad("bad API key", 401)
    body = await _json(request)
    if body is None:
        return _bad("the body must be a JSON object")
    fields = _push_fields(body)
    if isinstance(fields, str):
        return _bad(fields)
    record = await request.config_dict[OPERATOR].push(fields)
    return web.json_response({"id": record["id"], "status": record["status"]}, status=201)


async def show_push(request: web.Request) -> web.Response:
    if not _authorised(request):
        return _bad("bad API key", 401)
    record = await request.config_dict[OPERATOR].get(request.match_info["push_id"])
    if record is None:
        return _bad("no such push", 404)
    keys = ("id", "reference", "status", "amount_minor", "currency", "reason")
    return web.json_response({k: record[k] for k in keys})


async def refund_push(request: web.Request) -> web.Response:
    if not _authorised(request):
        return _bad("bad API key", 401)
    refund_id = await request.config_dict[OPERATOR].refund(request.match_info["push_id"])
    if refund_id is None:
        return _bad("only a paid push can be refunded", 409)
    return web.json_response({"refund_id": refund_id}, status=201)


async def phone_prompts(request: web.Request) -> web.Response:
    msisdn = request.match_info["msisdn"]
    if not PHONE.match(msisdn):
        return _bad("phone must be in +E.164 form")
    prompts = await request.config_dict[OPERATOR].pending_for(msisdn)
    keys = ("id", "amount_minor", "currency", "description", "merchant")
    return web.json_response({"prompts": [{k: p.get(k, "") for k in keys} for p in prompts]})


async def answer_prompt(request: web.Request) -> web.Response:
    """The payer approves with a 4-digit PIN (0000 plays a wrong PIN) or declines."""
    body = await _json(request)
    if body is None or body.get("action") not in ("approve", "decline"):
        return _bad("action must be approve or decline")
    pin = str(body.get("pin", ""))
    if body["action"] == "approve" and not re.fullmatch(r"\d{4}", pin):
        return _bad("the PIN is 4 digits")
    approving = body["action"] == "approve"
    approve = approving and pin != "0000"
    reason = "approved by payer" if approve else ("wrong PIN" if approving else "declined by payer")
    done = await request.config_dict[OPERATOR].resolve(
        request.match_info["push_id"], approve=approve, reason=reason
    )
    if not done:
        return _bad("this prompt is no longer waiting", 409)
    return web.json_response({"status": "paid" if approve else "failed", "reason": reason})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/pushes", create_push)
    app.router.add_get("/api/pushes/{push_id}", show_push)
    app.router.add_post("/api/pushes/{push_id}/refunds", refund_push)
    app.router.add_get("/phone/{msisdn}/prompts", phone_prompts)
    app.router.add_post("/phone/prompts/{push_id}", answer_prompt)
