"""`tikiti agent …` as an organizer runs it: register, fill the float, rate, statement."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.conftest import create_database, drop_database
from tests.e2e.test_cli import cli_env, run
from tikiti.core import agent_sales
from tikiti.core.db import Database, make_engine
from tikiti.core.models import Agent, Event, Tier

AGENT = "0772000111"


async def test_an_organizer_runs_an_agent_from_the_command_line(
    server_url: str, redis_url: str
) -> None:
    name, url = await create_database(server_url)
    env = cli_env(url, redis_url)
    who = ("--organizer", "harare-live", "--phone", AGENT)
    try:
        assert (await run("db", "upgrade", env=env)).returncode == 0
        assert (await run("seed", "--demo", env=env)).returncode == 0
        added = await run(
            "agent", "add", *who, "--name", "Mbare kiosk", "--float-limit", "500",
            "--commission-percent", "5", env=env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert "+263772000111, float in USD. One-time PIN" in added.stdout
        again = await run("agent", "add", *who, "--name", "twice", env=env)
        assert again.returncode == 2 and "already an agent" in again.stderr
        topped = await run("agent", "topup", *who, "--amount", "100", "--reason", "cash", env=env)
        assert topped.returncode == 0 and "is now USD 100.00" in topped.stdout, topped.stderr
        too_much = await run("agent", "topup", *who, "--amount", "450", "--reason", "x", env=env)
        assert too_much.returncode == 2 and "float limit" in too_much.stderr
        bad = await run("agent", "topup", *who, "--amount", "ten", "--reason", "x", env=env)
        assert bad.returncode == 2 and "not an amount" in bad.stderr
        rated = await run(
            "agent", "rate", *who, "--event", "derby", "--commission-percent", "7.5", env=env
        )
        assert rated.returncode == 0 and "7.5% on DERBY" in rated.stdout, rated.stderr

        database = Database(make_engine(url, pool_size=1))
        try:
            async with database.transaction() as session:
                agent = await session.scalar(select(Agent).where(Agent.phone == "+263772000111"))
                event = await session.scalar(select(Event).where(Event.code == "DERBY"))
                assert agent is not None and event is not None
                tier = await session.scalar(
                    select(Tier).where(Tier.event_id == event.id).order_by(Tier.sort_order)
                )
                assert tier is not None
                sale = await agent_sales.sell(
                    session,
                    agent_id=agent.id,
                    event_id=event.id,
                    tier_id=tier.id,
                    quantity=2,
                    buyer_phone="+263772999888",
                    language="en",
                    idempotency_key="cli-test-sale",
                )
        finally:
            await database.dispose()

        today = datetime.now(UTC)
        days = ("--from", (today - timedelta(days=1)).strftime("%Y-%m-%d"),
                "--to", (today + timedelta(days=1)).strftime("%Y-%m-%d"))  # fmt: skip
        printed = await run("agent", "statement", *who, *days, env=env)
        assert printed.returncode == 0, printed.stderr
        assert "Opening float USD 0.00" in printed.stdout
        assert sale.reference in printed.stdout
        assert f"sales {sale.total}; commission {sale.commission}" in printed.stdout
        exported = await run("agent", "statement", *who, *days, "--csv", env=env)
        rows = list(csv.DictReader(io.StringIO(exported.stdout)))
        assert [r["kind"] for r in rows] == ["float_top_up", "agent_sale"]
        assert rows[-1]["float_after"] == sale.float_left.decimal_string()
        assert rows[-1]["commission"] == sale.commission.decimal_string()
    finally:
        await drop_database(server_url, name)
