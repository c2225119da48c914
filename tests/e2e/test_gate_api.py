"""The gate scanners' HTTP API as a scanner sees it: tokens, check-in, bundle, sync, conflicts."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from tests.conftest import TEST_SECRET
from tests.e2e.test_cli import run
from tests.integration.test_gate import a_gate, count, qr, tampered
from tikiti.core import gate, orders, setup
from tikiti.core.db import Database
from tikiti.core.models import CheckIn, GateConflict, Ticket
from tikiti.core.offline import Bundle
from tikiti.core.signing import KeyBox

Client = TestClient[Any, Any]
ENDPOINTS = [
    ("POST", "/api/checkin"),
    ("GET", "/api/gate/bundle"),
    ("POST", "/api/gate/sync"),
    ("GET", "/api/gate/conflicts"),
]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def check_in(client: Client, token: str, **body: object) -> dict[str, Any]:
    body.setdefault("nonce", secrets.token_hex(8))
    response = await client.post("/api/checkin", json=body, headers=bearer(token))
    assert response.status == 200, await response.text()
    return dict(await response.json())


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
async def test_missing_wrong_or_revoked_tokens_get_401(
    client: Client, db: Database, keybox: KeyBox, method: str, path: str
) -> None:
    g = await a_gate(db, keybox)
    async with db.transaction() as session:
        revoked, access = g.token, g.access
        await gate.revoke_token(
            session, access.token_id, organizer_id=access.organizer_id, actor="test"
        )
    body = {"nonce": "n", "code": g.codes[0]}
    for headers in ({}, {"Authorization": "Basic eDp5"}, bearer("gt_nope"), bearer(revoked)):
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status == 401 and "Bearer" in response.headers["WWW-Authenticate"]
        assert "error" in await response.json()
    assert await count(db, CheckIn, CheckIn.ticket_id == g.ticket_ids[0]) == 0


async def test_code_check_in_then_a_second_scan_says_when_and_where(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox)
    first = await check_in(client, g.token, code=g.codes[0].lower(), gate="B")
    assert first["result"] == "admitted" and first["gate"] == "B"
    assert first["ticket"] == {"code": g.codes[0], "tier": "General", "seat": None}
    second = await check_in(client, g.token, code=g.codes[0])
    assert second["result"] == "already_used" and "already used" in second["reason"]
    assert (second["gate"], second["checked_in_at"]) == ("B", first["checked_in_at"])


async def test_qr_check_in_and_a_qr_with_a_bad_signature(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox)
    payload = await qr(db, keybox, g.ticket_ids[0])
    forged = await check_in(client, g.token, qr=tampered(payload))
    assert forged["result"] == "invalid_code" and forged["ticket"] is None
    admitted = await check_in(client, g.token, qr=payload)
    assert admitted["result"] == "admitted" and admitted["gate"] == "A"  # the token's gate
    assert admitted["ticket"]["code"] == g.codes[0]


async def test_the_same_nonce_twice_gives_the_first_answer_and_one_check_in(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox)
    first = await check_in(client, g.token, nonce="dev1-000042", code=g.codes[0])
    retry = await check_in(client, g.token, nonce="dev1-000042", code=g.codes[0])
    assert first == retry and first["result"] == "admitted"
    assert await count(db, CheckIn, CheckIn.ticket_id == g.ticket_ids[0]) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "must be JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"code": "X"}', '"nonce" is required'),
        (b'{"nonce": "n"}', "exactly one of"),
        (b'{"nonce": "n", "code": "A", "qr": "B"}', "exactly one of"),
        (('{"nonce": "%s", "code": "A"}' % ("n" * 81)).encode(), "longer than 80"),
        (b'{"nonce": 7, "code": "A"}', "non-empty string"),
        (b'{"nonce": "n", "code": "A", "gate": "B\\u0000"}', "cannot be printed"),
        (b'{"nonce": "n", "code": "A", "scanned_at": "19:02"}', "ISO-8601"),
        (b'{"nonce": "n", "code": "A", "scanned_at": "2026-05-01T19:02:00"}', "offset"),
        (b'{"nonce": "n", "code": "A", "scaned_at": "2026-05-01T19:02Z"}', "unknown field"),
        (b"\xff\xfe", "must be JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "must be JSON"),
    ],
)
async def test_malformed_bodies_get_400_with_a_clear_message(
    client: Client, db: Database, keybox: KeyBox, body: bytes, message: str
) -> None:
    g = await a_gate(db, keybox)
    headers = {**bearer(g.token), "Content-Type": "application/json"}
    response = await client.post("/api/checkin", data=body, headers=headers)
    assert response.status == 400
    assert message in (await response.json())["error"]


async def test_wrong_event_and_refunded_tickets_are_refused(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    g, other = await a_gate(db, keybox), await a_gate(db, keybox)
    wrong = await check_in(client, g.token, code=other.codes[0])
    assert wrong["result"] == "wrong_event" and wrong["ticket"] is None
    async with db.transaction() as session:
        await orders.refund(session, g.order_id, actor="test", reason="test")
    refunded = await check_in(client, g.token, code=g.codes[0])
    assert refunded["result"] == "refunded" and refunded["ticket"]["code"] == g.codes[0]


async def test_the_bundle_verifies_codes_offline_and_holds_no_phone_numbers(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox, quantity=2)
    response = await client.get("/api/gate/bundle", headers=bearer(g.token))
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store"
    raw = await response.text()
    async with db.session() as session:
        phones = (await session.scalars(select(Ticket.holder_phone).where(
            Ticket.event_id == g.world.event_id))).all()  # fmt: skip
    assert phones and not any(p.lstrip("+") in raw for p in phones)
    assert not any(code in raw for code in g.codes)
    bundle = Bundle.from_json(raw)
    assert bundle.event_id == g.world.event_id and bundle.gate == "A"
    assert all(bundle.verify_code(code) for code in g.codes)
    assert bundle.verify_qr(await qr(db, keybox, g.ticket_ids[1])) is not None


async def test_two_offline_admissions_synced_make_one_conflict(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox)
    at = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=20)
    west_at = f"{at:%Y-%m-%dT%H:%M}:30Z"  # any offset will do; answers are in UTC
    scans = [
        {"nonce": "east-1", "code": g.codes[0], "gate": "East", "scanned_at": at.isoformat()},
        {"nonce": "west-1", "code": g.codes[0], "gate": "West", "scanned_at": west_at},
    ]
    for _ in range(2):  # an upload retried after a lost answer changes nothing
        response = await client.post(
            "/api/gate/sync", json={"scans": scans}, headers=bearer(g.token)
        )
        assert response.status == 200, await response.text()
        east, west = (await response.json())["results"]
        assert (east["nonce"], east["result"], east["gate"]) == ("east-1", "admitted", "East")
        assert (west["result"], west["gate"]) == ("already_used", "East")
        assert west["checked_in_at"] == east["checked_in_at"] == at.isoformat()
    assert await count(db, GateConflict, GateConflict.ticket_id == g.ticket_ids[0]) == 1
    response = await client.get("/api/gate/conflicts", headers=bearer(g.token))
    (conflict,) = (await response.json())["conflicts"]
    assert conflict["code"] == g.codes[0] and conflict["first"]["gate"] == "East"
    assert conflict["second"] == {"gate": "West", "at": (at + timedelta(seconds=30)).isoformat()}


async def test_a_sync_with_one_bad_scan_is_refused_whole(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox)
    scans = [{"nonce": "a", "code": g.codes[0], "scanned_at": "2026-01-01T10:00Z"}, {"nonce": "b"}]
    response = await client.post("/api/gate/sync", json={"scans": scans}, headers=bearer(g.token))
    assert response.status == 400 and "scans[1]" in (await response.json())["error"]
    assert await count(db, CheckIn, CheckIn.ticket_id == g.ticket_ids[0]) == 0


async def test_the_cli_issues_a_token_the_api_accepts(
    client: Client, db: Database, keybox: KeyBox, database_url: str, redis_url: str
) -> None:
    g = await a_gate(db, keybox)
    env = {
        "TIKITI_DATABASE_URL": database_url,
        "TIKITI_REDIS_URL": redis_url,
        "TIKITI_SECRET_KEY": TEST_SECRET,
        "TIKITI_CALLBACK_TOKEN": "cli-test-callback-token",
        "TIKITI_PUBLIC_URL": "https://tickets.example.org",
    }
    issued = await run("gate", "token", "--event", g.world.event_code, "--gate", "VIP", env=env)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("gt_") and "revoke --id" in issued.stderr
    assert (await check_in(client, token, code=g.codes[0]))["gate"] == "VIP"
    token_id = issued.stderr.split("gate token ")[1].split()[0]
    assert (await run("gate", "revoke", "--id", token_id, env=env)).returncode == 0
    response = await client.get("/api/gate/bundle", headers=bearer(token))
    assert response.status == 401
    unknown = await run("gate", "token", "--event", "NOSUCH", "--gate", "A", env=env)
    assert unknown.returncode == 2 and "no event" in unknown.stderr


async def test_a_nonce_spent_on_another_event_is_refused_not_answered(
    client: Client, db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox)
    async with db.transaction() as session:
        other = await setup.create_event(
            session, keybox,
            setup.EventSpec(
                organizer_id=g.world.organizer_id, code=f"N{secrets.token_hex(4)}".upper(),
                name="Other night", category="music", starts_at=datetime.now(UTC),
                ends_at=datetime.now(UTC) + timedelta(hours=3), timezone="UTC", country="ZW",
            ),
            actor="test",
        )  # fmt: skip
        other_token = await gate.issue_token(session, g.world.organizer_id, other.id, "Z")
    await check_in(client, g.token, nonce="phone9-1", code=g.codes[0])
    body = {"nonce": "phone9-1", "code": g.codes[0]}
    response = await client.post("/api/checkin", json=body, headers=bearer(other_token))
    assert response.status == 400 and "another event" in (await response.json())["error"]
    scans = [{**body, "scanned_at": datetime.now(UTC).isoformat()}]
    response = await client.post(
        "/api/gate/sync", json={"scans": scans}, headers=bearer(other_token)
    )
    assert response.status == 200
    assert "another event" in (await response.json())["results"][0]["error"]
