"""`tikiti reseller …` and `tikiti promo …` as an organizer runs them, then a buyer uses both."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import create_database, drop_database
from tests.e2e.test_cli import cli_env, run
from tikiti.core import holds
from tikiti.core.db import Database, make_engine
from tikiti.core.models import Event, Order, PromoCode, ResellerAllocation, Tier
from tikiti.core.money import Money


def one_line_error(result: object, text: str) -> bool:
    stderr = getattr(result, "stderr", "")
    lines = stderr.strip().splitlines()
    return getattr(result, "returncode", 0) == 2 and len(lines) == 1 and text in lines[0]


async def test_an_organizer_sets_up_a_reseller_and_a_promo_code(
    server_url: str, redis_url: str
) -> None:
    name, url = await create_database(server_url)
    env = cli_env(url, redis_url)
    try:
        assert (await run("db", "upgrade", env=env)).returncode == 0
        assert (await run("seed", "--demo", env=env)).returncode == 0
        added = await run(
            "reseller", "add", "--organizer", "harare-live", "--code", "tino",
            "--name", "Tino Online", "--phone", "0772000222", "--commission-percent", "5",
            env=env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        assert "Reseller TINO (Tino Online) at harare-live, commission 5%." in added.stdout
        twice = await run(
            "reseller", "add", "--organizer", "harare-live", "--code", "TINO", "--name", "x",
            env=env,
        )  # fmt: skip
        assert one_line_error(twice, "TINO is already a reseller code"), twice.stderr
        where = ("--code", "TINO", "--event", "zimfest", "--tier", "vip")
        allocated = await run("reseller", "allocate", *where, "--places", "50", env=env)
        assert allocated.returncode == 0, allocated.stderr
        assert "TINO has 50 places of ZIMFEST VIP (0 sold, 0 held, 50 left)." in allocated.stdout
        too_many = await run("reseller", "allocate", *where, "--places", "9999999", env=env)
        assert one_line_error(too_many, "more places are free to set aside"), too_many.stderr
        listed = await run("reseller", "list", "--organizer", "harare-live", env=env)
        assert "TINO\tTino Online\t5%\towed USD 0.00" in listed.stdout, listed.stderr
        assert "ZIMFEST VIP: 50 places, 0 sold, 0 held" in listed.stdout

        promo = await run(
            "promo", "add", "--event", "ZIMFEST", "--tier", "VIP", "--code", "early10",
            "--percent", "10", "--max-uses", "100", "--per-buyer", "1",
            "--from", "2020-01-01", "--until", "2099-12-31", env=env,
        )  # fmt: skip
        assert promo.returncode == 0, promo.stderr
        assert "EARLY10 for ZIMFEST: 10% off VIP, used 0 of 100, 1 per buyer." in promo.stdout
        fixed = await run(
            "promo", "add", "--event", "ZIMFEST", "--code", "FIVEOFF", "--amount", "5.00",
            "--currency", "USD", env=env,
        )  # fmt: skip
        assert fixed.returncode == 0 and "USD 5.00 off, used 0 of no limit" in fixed.stdout
        bad = await run(
            "promo", "add", "--event", "ZIMFEST", "--code", "BAD", "--percent", "150", env=env
        )
        assert one_line_error(bad, "at most 100"), bad.stderr
        amount = await run(
            "promo", "add", "--event", "ZIMFEST", "--code", "BAD", "--amount", "two", env=env
        )
        assert one_line_error(amount, "not an amount"), amount.stderr
        unknown = await run("promo", "list", "--event", "NOPE", env=env)
        assert one_line_error(unknown, "no event with code 'NOPE'"), unknown.stderr
        shown = await run("promo", "list", "--event", "zimfest", env=env)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.splitlines()[0].startswith("EARLY10\t10% off VIP, used 0 of 100")
        assert "2020-01-01 00:00 to 2100-01-01 00:00" in shown.stdout
        assert shown.stdout.splitlines()[1].startswith("FIVEOFF\tUSD 5.00 off")

        await buy_with_both_codes(url)
        after = await run("promo", "list", "--event", "zimfest", env=env)
        assert "EARLY10\t10% off VIP, used 1 of 100" in after.stdout
    finally:
        await drop_database(server_url, name)


async def buy_with_both_codes(url: str) -> None:
    """What the dialog will do: BUY ZIMFEST VIP 2 TINO, then the promo code step."""
    database = Database(make_engine(url, pool_size=1))
    try:
        async with database.transaction() as session:
            event = await session.scalar(select(Event).where(Event.code == "ZIMFEST"))
            assert event is not None
            vip = await session.scalar(
                select(Tier).where(Tier.event_id == event.id, Tier.code == "VIP")
            )
            assert vip is not None
            placed = await holds.place_hold(
                session,
                event_id=event.id,
                items=[holds.Item(vip.id, 2)],
                buyer_phone="+263772999888",
                channel="sms",
                language="en",
                currency="USD",
                reseller_code="TINO",
                promo_code="EARLY10",
            )
            assert placed.discount == Money(1000, "USD")  # 10% of 2 x USD 50.00
            assert placed.total == Money(9000, "USD")
            assert len(placed.seats) == 2
            order = await session.get_one(Order, placed.order_id)
            allocation = await session.scalar(
                select(ResellerAllocation).where(ResellerAllocation.tier_id == vip.id)
            )
            promo = await session.scalar(select(PromoCode).where(PromoCode.code == "EARLY10"))
            assert allocation is not None and promo is not None
            assert order.reseller_id == allocation.reseller_id
            assert order.promo_code_id == promo.id
            assert allocation.held == 2
    finally:
        await database.dispose()
