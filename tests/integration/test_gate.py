"""Gate scanning through core: tokens, one admission per ticket, nonces, offline bundle and sync."""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from tests.factories import World, make_world
from tests.integration.concurrency import available_connections, race
from tests.integration.test_settlement import count, hold_and_request, settle
from tikiti.core import gate, gate_scans, orders, setup, tickets
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.gate_scans import ScanInput
from tikiti.core.models import CheckIn, Event, GateConflict, GateToken, Ticket
from tikiti.core.offline import Bundle
from tikiti.core.signing import KeyBox, TicketClaim, sign_claim


@dataclass(frozen=True)
class Gate:
    """An event whose doors open within the hour, its issued tickets and a scanner's access."""

    world: World
    codes: list[str]
    ticket_ids: list[int]
    order_id: int
    token: str
    access: gate.GateAccess


async def open_doors(db: Database, event_id: int, doors_in: timedelta = timedelta(hours=1)) -> None:
    """Factories make events a month away; a gate needs one that is about to start."""
    doors = datetime.now(UTC) + doors_in
    async with db.transaction() as session:
        await session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(
                doors_open_at=doors,
                starts_at=doors + timedelta(hours=1),
                ends_at=doors + timedelta(hours=8),
            )
        )


async def token_for(
    db: Database, world: World, gate_name: str = "A"
) -> tuple[str, gate.GateAccess]:
    async with db.transaction() as session:
        token = await gate.issue_token(session, world.organizer_id, world.event_id, gate_name)
        access = await gate.authenticate(session, token)
    assert access is not None
    return token, access


async def a_gate(
    db: Database,
    keybox: KeyBox,
    quantity: int = 1,
    *,
    doors: bool = True,
    world: World | None = None,
) -> Gate:
    world = world or await make_world(db, keybox)
    if doors:
        await open_doors(db, world.event_id)
    buyer = secrets.randbelow(10_000_000)
    order_id, reference, amount = await hold_and_request(db, world, buyer, quantity=quantity)
    issued = (await settle(db, reference, amount)).tickets
    token, access = await token_for(db, world)
    return Gate(world, [t.code for t in issued], [t.id for t in issued], order_id, token, access)


def attempt(access: gate.GateAccess, scan: ScanInput):  # type: ignore[no-untyped-def]
    async def run(database: Database) -> dict[str, object]:
        async with database.transaction() as session:
            return await gate_scans.answer_scan(session, access, scan, now=datetime.now(UTC))

    return run


async def scan(db: Database, access: gate.GateAccess, **fields: object) -> dict[str, object]:
    fields.setdefault("nonce", secrets.token_hex(8))
    return await attempt(access, ScanInput(**fields))(db)  # type: ignore[arg-type]


async def qr(db: Database, keybox: KeyBox, ticket_id: int) -> str:
    async with db.session() as session:
        return await tickets.qr_payload(session, keybox, ticket_id)


def tampered(payload: str) -> str:
    """The same claim with one signature bit flipped: well formed, but signed by nobody."""
    body = payload.removeprefix("TK1:")
    data = bytearray(base64.b32decode(body + "=" * (-len(body) % 8)))
    data[-1] ^= 1
    return "TK1:" + base64.b32encode(bytes(data)).decode().rstrip("=")


async def test_50_gates_scanning_one_ticket_admit_it_once(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    g = await a_gate(db, keybox)
    scans = [ScanInput(f"n-{n}", code=g.codes[0], gate=f"G{n}") for n in range(50)]
    connections = await available_connections(server_url, 50)
    results = await race(database_url, connections, [attempt(g.access, s) for s in scans])
    answers = [r for r in results if isinstance(r, dict)]
    admitted = [a for a in answers if a["result"] == "admitted"]
    used = [a for a in answers if a["result"] == "already_used"]
    assert len(answers) == 50 and len(admitted) == 1 and len(used) == 49
    first = admitted[0]
    assert all(
        (u["gate"], u["checked_in_at"]) == (first["gate"], first["checked_in_at"]) for u in used
    )
    assert await count(db, CheckIn, CheckIn.ticket_id == g.ticket_ids[0]) == 50


async def test_one_nonce_sent_by_racing_retries_counts_once(
    db: Database, keybox: KeyBox, database_url: str, server_url: str
) -> None:
    g = await a_gate(db, keybox)
    retry = attempt(g.access, ScanInput("same", code=g.codes[0]))
    connections = await available_connections(server_url, 10)
    results = await race(database_url, connections, [retry] * 10)
    assert all(r == results[0] for r in results) and results[0]["result"] == "admitted"  # type: ignore[index]
    assert await count(db, CheckIn, CheckIn.ticket_id == g.ticket_ids[0]) == 1


async def test_tokens_are_kept_as_hashes_and_revocation_locks_the_scanner_out(
    db: Database, keybox: KeyBox
) -> None:
    world = await make_world(db, keybox)
    token, access = await token_for(db, world, "North")
    assert token.startswith("gt_") and access.gate == "North"
    async with db.transaction() as session:
        row = await session.get_one(GateToken, access.token_id)
        assert token.encode() not in row.token_hash and row.token_hash == gate.token_hash(token)
        assert await gate.authenticate(session, token[:-1] + "x") is None
        assert await gate.authenticate(session, "not-a-token") is None
        assert await gate.revoke_token(
            session, access.token_id, organizer_id=world.organizer_id, actor="test"
        )
        assert await gate.authenticate(session, token) is None


async def test_a_token_is_only_issued_for_the_organizers_own_event(
    db: Database, keybox: KeyBox
) -> None:
    mine, theirs = await make_world(db, keybox), await make_world(db, keybox)
    with pytest.raises(NotFound):
        async with db.transaction() as session:
            await gate.issue_token(session, mine.organizer_id, theirs.event_id, "A")


async def test_qr_admits_once_and_a_replaced_or_forged_qr_does_not(
    db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox, quantity=2)
    first, second = [await qr(db, keybox, t) for t in g.ticket_ids]
    admitted = await scan(db, g.access, qr=first)
    assert admitted["result"] == "admitted" and admitted["ticket"]["code"] == g.codes[0]  # type: ignore[index]
    assert (await scan(db, g.access, qr=first))["result"] == "already_used"
    async with db.transaction() as session:
        await session.execute(update(Ticket).where(Ticket.id == g.ticket_ids[1]).values(version=2))
    replaced = await scan(db, g.access, qr=second)
    assert replaced["result"] == "invalid_code" and "replaced" in str(replaced["reason"])
    forged = await scan(db, g.access, qr=tampered(await qr(db, keybox, g.ticket_ids[1])))
    assert (forged["result"], forged["reason"]) == ("invalid_code", "bad signature")


async def test_a_qr_of_the_organizers_other_event_is_wrong_event(
    db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox)
    async with db.transaction() as session:
        other = await setup.create_event(
            session, keybox,
            setup.EventSpec(
                organizer_id=g.world.organizer_id, code=f"O{secrets.token_hex(4)}".upper(),
                name="Other night", category="music", starts_at=datetime.now(UTC),
                ends_at=datetime.now(UTC) + timedelta(hours=3), timezone="UTC", country="ZW",
            ),
            actor="test",
        )  # fmt: skip
        private = keybox.open(other.private_key_sealed, f"event:{other.id}".encode())
    payload = sign_claim(private, TicketClaim(g.ticket_ids[0], other.id, g.world.ga_tier_id, 1))
    answer = await scan(db, g.access, qr=payload)
    assert answer["result"] == "wrong_event" and answer["ticket"] is None
    stranger = await a_gate(db, keybox)  # another organizer's QR proves nothing here
    assert (await scan(db, g.access, qr=await qr(db, keybox, stranger.ticket_ids[0])))[
        "result"
    ] == "invalid_code"


async def test_scans_long_before_doors_open_are_not_yet_valid(db: Database, keybox: KeyBox) -> None:
    g = await a_gate(db, keybox, doors=False)  # the factory's event is a month away
    early = await scan(db, g.access, code=g.codes[0])
    assert early["result"] == "not_yet_valid" and "admit from" in str(early["reason"])
    await open_doors(db, g.world.event_id, doors_in=timedelta(hours=5, minutes=50))
    async with db.session() as session:
        access = await gate.authenticate(session, g.token)
    assert access is not None  # within the six-hour grace now
    assert (await scan(db, access, code=g.codes[0]))["result"] == "admitted"


async def test_two_offline_admissions_make_one_conflict_whatever_the_upload_order(
    db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox, quantity=2)
    t = datetime.now(UTC) - timedelta(minutes=30)
    for code, order in ((g.codes[0], (0, 5)), (g.codes[1], (5, 0))):
        answers = [
            await scan(db, g.access, code=code, gate=f"G{m}", scanned_at=t + timedelta(minutes=m))
            for m in order
        ]
        assert answers[0]["result"] == "admitted"
    async with db.session() as session:
        found = await gate.conflicts(session, g.world.event_id)
    assert len(found) == 2
    for conflict in found:
        assert (conflict.first_gate, conflict.first_at) == ("G0", t)
        assert (conflict.second_gate, conflict.second_at) == ("G5", t + timedelta(minutes=5))
    async with db.session() as session:
        kept = await session.get_one(Ticket, g.ticket_ids[1])
    assert (kept.checked_in_gate, kept.checked_in_at) == ("G0", t)  # the earliest wins


async def test_bundle_lets_a_device_verify_offline_and_tells_nothing_personal(
    db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox, quantity=3)
    refunded, other = await a_gate(db, keybox, world=g.world), await a_gate(db, keybox)
    async with db.transaction() as session:
        await orders.refund(session, refunded.order_id, actor="test", reason="test")
    await scan(db, g.access, code=g.codes[2])
    async with db.transaction() as session:
        raw = json.dumps(await gate.build_bundle(session, g.access, datetime.now(UTC)))
        phones = (await session.scalars(select(Ticket.holder_phone).where(
            Ticket.event_id == g.world.event_id))).all()  # fmt: skip
    assert phones and not any(p in raw or p.lstrip("+") in raw for p in phones)
    assert not any(code in raw for code in g.codes)
    bundle = Bundle.from_json(raw)
    assert all(bundle.verify_code(c) for c in g.codes) and bundle.is_used_code(g.codes[2])
    assert not bundle.verify_code(other.codes[0]) and not bundle.verify_code("0000000000")
    claim = bundle.verify_qr(await qr(db, keybox, g.ticket_ids[0]))
    assert claim is not None and claim.ticket_id == g.ticket_ids[0]
    assert bundle.verify_qr(await qr(db, keybox, other.ticket_ids[0])) is None
    assert bundle.verify_qr(tampered(await qr(db, keybox, g.ticket_ids[0]))) is None
    assert not bundle.verify_code(refunded.codes[0])
    assert bundle.verify_qr(await qr(db, keybox, refunded.ticket_ids[0])) is None
    assert await count(db, GateConflict, GateConflict.event_id == g.world.event_id) == 0


async def test_an_offline_admission_before_an_online_one_wins_and_makes_a_conflict(
    db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox)
    online = await scan(db, g.access, code=g.codes[0], gate="Main")
    earlier = datetime.now(UTC) - timedelta(minutes=7)
    offline = await scan(db, g.access, code=g.codes[0], gate="Back", scanned_at=earlier)
    assert online["result"] == offline["result"] == "admitted"
    assert offline["gate"] == "Back" and "conflict" in str(offline["reason"])
    async with db.session() as session:
        (conflict,) = await gate.conflicts(session, g.world.event_id)
    assert (conflict.first_gate, conflict.first_at) == ("Back", earlier)
    assert conflict.second_gate == "Main" and conflict.code == g.codes[0]
    again = await scan(db, g.access, code=g.codes[0], gate="Side")
    assert (again["result"], again["gate"]) == ("already_used", "Back")


async def test_a_cancelled_event_refuses_and_a_nonce_stays_with_its_event(
    db: Database, keybox: KeyBox
) -> None:
    g = await a_gate(db, keybox)
    other = await a_gate(db, keybox, world=await make_world(db, keybox))
    await scan(db, g.access, nonce="shared-1", code=g.codes[0])
    async with db.transaction() as session:
        other_event_access = dataclasses.replace(other.access, organizer_id=g.access.organizer_id)
        with pytest.raises(InvalidInput, match="another event"):
            await gate_scans.answer_scan(
                session, other_event_access, ScanInput("shared-1", code=other.codes[0]),
                now=datetime.now(UTC),
            )  # fmt: skip
    async with db.transaction() as session:
        await session.execute(
            update(Event).where(Event.id == g.world.event_id).values(status="cancelled")
        )
        access = await gate.authenticate(session, g.token)
    assert access is not None and access.event_cancelled
    assert (await scan(db, access, code=g.codes[0]))["result"] == "cancelled"
