"""Hold throughput on one hot tier through tikiti.core, against raw SQL doing the same writes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import secrets
import sys
import time
from dataclasses import asdict, dataclass
from statistics import mean

import asyncpg

from bench import common
from tikiti.core import holds
from tikiti.core.db import Database, make_engine
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox

logger = logging.getLogger("bench.holds")

TARGET_RATIO = 0.5
CAPACITY = 10_000_000
PRICE = Money(1000, "USD")
REFERENCE_SEQUENCE = "bench_order_reference"

# What place_hold writes, in one transaction: the order, its line, then inventory._TAKE with
# quantity 1. References come from a sequence ('b' + digits never matches tikiti's alphabet),
# so pgbench clients can never clash with each other, with earlier runs or with tikiti.
PGBENCH_SCRIPT = f"""\
\\set quantity 1
\\set phone 263770000000 + :client_id
\\set total :price * :quantity
BEGIN;
INSERT INTO orders (organizer_id, event_id, reference, buyer_phone, channel, language,
                    currency, total_minor, status, expires_at)
VALUES (:organizer_id, :event_id, 'b' || nextval('{REFERENCE_SEQUENCE}'), '+' || :phone,
        'ussd', 'en', 'USD', :total, 'held', now() + interval '10 minutes')
RETURNING id AS order_id \\gset
INSERT INTO order_lines (order_id, tier_id, quantity, unit_price_minor)
VALUES (:order_id, :tier_id, :quantity, :price);
WITH taken AS (
    UPDATE tiers SET held = held + :quantity
     WHERE id = :tier_id AND active AND capacity - sold - held - allocated >= :quantity
    RETURNING id
)
INSERT INTO holds (order_id, tier_id, quantity, state, expires_at)
SELECT :order_id, taken.id, :quantity, 'active', now() + interval '10 minutes' FROM taken
RETURNING id;
END;
"""


@dataclass(frozen=True)
class World:
    organizer_id: int
    event_id: int
    tier_id: int


@dataclass(frozen=True)
class RunSpec:
    clients: int
    seconds: int


@dataclass(frozen=True)
class TikitiRun:
    holds: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.holds / self.seconds


@dataclass(frozen=True)
class Figures:
    """Everything the report and --json show; ratios compare runs on the same machine only."""

    server: str
    clients: int
    seconds: int
    raw_sql_runs: list[float]
    raw_sql_holds_per_second: float
    tikiti_holds: int
    tikiti_holds_per_second: float
    ratio: float
    target_ratio: float
    passed: bool
    tikiti_p50_ms: float
    tikiti_p99_ms: float
    tier_held: int
    active_hold_quantity: int
    consistent: bool


# --- seeding --------------------------------------------------------------------------------


async def seed(db: Database) -> World:
    """One on-sale event whose GA tier cannot sell out, so every hold succeeds."""
    keybox = KeyBox(secrets.token_urlsafe(32))
    return World(*await common.seed_event(db, keybox, code="BENCH", capacity=CAPACITY))


# --- raw SQL baseline -----------------------------------------------------------------------


async def raw_sql(
    server: common.Server, database: common.BenchDatabase, world: World, spec: RunSpec
) -> float:
    """Holds per second for the same writes sent as prepared statements by pgbench."""
    return await common.run_pgbench(
        server.pgbench,
        database.libpq_url,
        PGBENCH_SCRIPT,
        clients=spec.clients,
        seconds=spec.seconds,
        variables={
            "organizer_id": world.organizer_id,
            "event_id": world.event_id,
            "tier_id": world.tier_id,
            "price": PRICE.minor,
        },
    )


# --- tikiti ---------------------------------------------------------------------------------


def buyer_phone(client: int) -> str:
    """One buyer per client, as in the baseline, so buyers never contend with each other."""
    return f"+26377{client % 10_000_000:07d}"


async def place_one(db: Database, world: World, phone: str) -> None:
    async with db.transaction() as session:
        await holds.place_hold(
            session,
            event_id=world.event_id,
            items=[holds.Item(world.tier_id, 1)],
            buyer_phone=phone,
            channel="ussd",
            language="en",
            currency=PRICE.currency,
        )


async def tikiti_client(
    db: Database, world: World, client: int, deadline: float, latencies: list[float]
) -> None:
    phone = buyer_phone(client)
    while time.perf_counter() < deadline:
        began = time.perf_counter()
        await place_one(db, world, phone)
        latencies.append(time.perf_counter() - began)


async def tikiti(database: common.BenchDatabase, world: World, spec: RunSpec) -> TikitiRun:
    """Holds per second through tikiti.core on a fresh pool of one connection per client.

    The pool is disposed afterwards so pgbench's connections and ours never add up past the
    server's max_connections; one untimed hold per client opens the pool first, just as
    pgbench's figure excludes connection set-up.
    """
    db = Database(make_engine(database.asyncpg_url, pool_size=spec.clients, max_overflow=0))
    try:
        # TaskGroups, so that one failing client cancels the others instead of leaving them on.
        async with asyncio.TaskGroup() as primers:
            for c in range(spec.clients):
                primers.create_task(place_one(db, world, buyer_phone(c)))
        latencies: list[float] = []
        began = time.perf_counter()
        deadline = began + spec.seconds
        async with asyncio.TaskGroup() as clients:
            for c in range(spec.clients):
                clients.create_task(tikiti_client(db, world, c, deadline, latencies))
        return TikitiRun(len(latencies), time.perf_counter() - began, latencies)
    finally:
        await db.dispose()


# --- the run --------------------------------------------------------------------------------


async def prepare(database: common.BenchDatabase) -> World:
    db = Database(make_engine(database.asyncpg_url, pool_size=1, max_overflow=0))
    try:
        world = await seed(db)
    finally:
        await db.dispose()
    connection = await asyncpg.connect(database.libpq_url)
    try:
        await connection.execute(f"CREATE SEQUENCE {REFERENCE_SEQUENCE}")
    finally:
        await connection.close()
    logger.info("seeded event %d, tier %d", world.event_id, world.tier_id)
    return world


async def consistency(database: common.BenchDatabase, tier_id: int) -> tuple[int, int]:
    """(tiers.held, sum of active holds): equal unless holds were lost or double counted."""
    connection = await asyncpg.connect(database.libpq_url)
    try:
        row = await connection.fetchrow(
            "SELECT held, (SELECT coalesce(sum(quantity), 0) FROM holds"
            "              WHERE tier_id = $1 AND state = 'active') AS active"
            "  FROM tiers WHERE id = $1",
            tier_id,
        )
    finally:
        await connection.close()
    assert row is not None
    return int(row["held"]), int(row["active"])


async def vacuum_tier(database: common.BenchDatabase) -> None:
    """Each run starts from the same hot row.

    A few thousand updates of the one tier row leave a chain of dead versions that autovacuum
    does not reach within seconds, and throughput halves as it grows; without this, the second
    baseline would always be slower than the first for reasons that have nothing to do with
    noise.
    """
    connection = await asyncpg.connect(database.libpq_url)
    try:
        await connection.execute("VACUUM tiers")
    finally:
        await connection.close()


async def measure(
    server: common.Server, database: common.BenchDatabase, world: World, options: argparse.Namespace
) -> tuple[list[float], TikitiRun]:
    """Warm both up, then baseline, tikiti, baseline: the mean baseline brackets tikiti's run."""
    warmup = RunSpec(options.clients, options.warmup)
    measured = RunSpec(options.clients, options.seconds)
    logger.info("warming up for %ds each", options.warmup)
    await raw_sql(server, database, world, warmup)
    await tikiti(database, world, warmup)
    runs: list[float] = []
    logger.info("raw SQL, %d clients, %ds", options.clients, options.seconds)
    await vacuum_tier(database)
    runs.append(await raw_sql(server, database, world, measured))
    logger.info("raw SQL: %.0f holds/s; now tikiti", runs[-1])
    await vacuum_tier(database)
    run = await tikiti(database, world, measured)
    logger.info("tikiti: %.0f holds/s; now raw SQL again", run.per_second)
    await vacuum_tier(database)
    runs.append(await raw_sql(server, database, world, measured))
    logger.info("raw SQL: %.0f holds/s", runs[-1])
    return runs, run


def figures(
    server: common.Server,
    options: argparse.Namespace,
    runs: list[float],
    run: TikitiRun,
    counters: tuple[int, int],
) -> Figures:
    baseline = mean(runs)
    if baseline <= 0:
        raise common.BenchError(f"the raw SQL baseline measured no holds: {runs}")
    ratio = run.per_second / baseline
    return Figures(
        server=server.kind,
        clients=options.clients,
        seconds=options.seconds,
        raw_sql_runs=runs,
        raw_sql_holds_per_second=baseline,
        tikiti_holds=run.holds,
        tikiti_holds_per_second=run.per_second,
        ratio=ratio,
        target_ratio=TARGET_RATIO,
        passed=ratio >= TARGET_RATIO,
        tikiti_p50_ms=common.percentile(run.latencies, 0.50) * 1000,
        tikiti_p99_ms=common.percentile(run.latencies, 0.99) * 1000,
        tier_held=counters[0],
        active_hold_quantity=counters[1],
        consistent=counters[0] == counters[1],
    )


def report(f: Figures) -> None:
    runs = " / ".join(f"{r:,.0f}" for r in f.raw_sql_runs)
    common.print_table(
        f"Hold throughput, one hot tier ({f.server} server, {f.clients} clients, {f.seconds}s)",
        [
            ("raw SQL holds/s", f"{f.raw_sql_holds_per_second:,.0f}  (runs: {runs})"),
            ("tikiti holds/s", f"{f.tikiti_holds_per_second:,.0f}  ({f.tikiti_holds:,} holds)"),
            ("tikiti / raw", f"{f.ratio:.1%}"),
            ("tikiti p50 / p99", f"{f.tikiti_p50_ms:.1f} ms / {f.tikiti_p99_ms:.1f} ms"),
            ("target", f">= {f.target_ratio:.0%} of raw"),
            ("result", "PASS" if f.passed else "BELOW TARGET"),
            (
                "tiers.held",
                f"{f.tier_held:,} = {f.active_hold_quantity:,} active hold places: "
                + ("OK" if f.consistent else "MISMATCH"),
            ),
        ],
    )


async def run(server: common.Server, options: argparse.Namespace) -> Figures:
    async with common.throwaway_database(server.admin_url) as database:
        world = await prepare(database)
        runs, tikiti_run = await measure(server, database, world, options)
        counters = await consistency(database, world.tier_id)
    return figures(server, options, runs, tikiti_run, counters)


def main(argv: list[str] | None = None) -> int:
    """0 even below target (a measurement, not a test); 1 when the run itself went wrong."""
    options = common.base_parser("python -m bench.holds", __doc__ or "").parse_args(argv)
    common.configure_logging(options.verbose)
    try:
        with common.server(options.database_url) as server:
            result = asyncio.run(run(server, options))
    except (common.BenchError, OSError, asyncpg.PostgresError) as error:
        logger.error("benchmark failed: %s", error)
        return 1
    report(result)
    if options.json:
        common.write_json(options.json, asdict(result))
    return 0 if result.consistent else 1


if __name__ == "__main__":
    sys.exit(main())
