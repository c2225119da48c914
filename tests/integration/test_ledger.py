"""The ledger refuses unbalanced transfers and any change to what was written."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError

from tests.factories import make_world
from tikiti.core import ledger
from tikiti.core.db import Database
from tikiti.core.errors import InvalidInput
from tikiti.core.ledger import Leg
from tikiti.core.models import Agent, LedgerEntry
from tikiti.core.signing import KeyBox


async def test_unbalanced_transfer_is_refused_by_the_database(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    with pytest.raises(DBAPIError, match="does not balance"):
        async with db.transaction() as session:
            await session.execute(
                insert(LedgerEntry).values(
                    txn=uuid.uuid4(),
                    organizer_id=world.organizer_id,
                    kind="test",
                    account="sales",
                    amount_minor=100,
                    currency="USD",
                )
            )
    with pytest.raises(InvalidInput):
        async with db.transaction() as session:
            await ledger.record(
                session,
                organizer_id=world.organizer_id,
                kind="test",
                currency="USD",
                legs=[Leg("a", 1), Leg("b", 2)],
            )


async def test_ledger_rows_cannot_be_changed_or_deleted(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    async with db.transaction() as session:
        txn = await ledger.record(
            session,
            organizer_id=world.organizer_id,
            kind="test",
            currency="USD",
            legs=[Leg("a", 5), Leg("b", -5)],
        )
    for statement in ("UPDATE ledger_entries SET amount_minor = 0", "DELETE FROM ledger_entries"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.transaction() as session:
                await session.execute(text(statement + " WHERE txn = :txn"), {"txn": txn})


async def test_an_agent_float_cannot_go_below_zero(db: Database, keybox: KeyBox) -> None:
    world = await make_world(db, keybox)
    async with db.transaction() as session:
        agent = Agent(
            organizer_id=world.organizer_id, phone="+263771000001", name="Kiosk", currency="USD"
        )
        session.add(agent)
        await session.flush()
        agent_id = agent.id
    with pytest.raises(DBAPIError, match="float_non_negative"):
        async with db.transaction() as session:
            await session.execute(
                text("UPDATE agents SET float_minor = float_minor - 1 WHERE id = :id"),
                {"id": agent_id},
            )
