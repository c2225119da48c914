"""Shared benchmark plumbing: server and throwaway database, pgbench, arguments and the report."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import logging
import math
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

from tikiti import schema
from tikiti.core import setup
from tikiti.core.db import Database
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox
from tikiti.embedded import EmbeddedServices, EmbeddedUrls, asyncpg_url

logger = logging.getLogger(__name__)

ENV_DATABASE_URL = "TIKITI_BENCH_DATABASE_URL"
SYSTEM_PGBENCH = Path("/usr/bin/pgbench")

_TPS_LINE = re.compile(r"^tps = ([0-9.]+) \(without initial connection time\)", re.MULTILINE)
_FAILED_LINE = re.compile(r"^number of failed transactions: (\d+)", re.MULTILINE)


class BenchError(RuntimeError):
    """Something went wrong that makes the figures meaningless (not merely slow)."""


@dataclass(frozen=True)
class Server:
    """A PostgreSQL server to benchmark on, and the pgbench that matches it best."""

    admin_url: str  # libpq URL of a maintenance database
    pgbench: Path
    kind: str  # "embedded" or "external"


@dataclass(frozen=True)
class BenchDatabase:
    name: str
    libpq_url: str  # for pgbench and asyncpg
    asyncpg_url: str  # for SQLAlchemy


# --- arguments and logging ------------------------------------------------------------------


def base_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """The options every benchmark shares, so `make bench` can pass the same ones to all."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--database-url",
        default=os.environ.get(ENV_DATABASE_URL),
        help=f"libpq URL of a maintenance database (default ${ENV_DATABASE_URL}; "
        "without either, embedded PostgreSQL is started)",
    )
    # Whole seconds: pgbench -T takes nothing finer, and both sides must run equally long.
    parser.add_argument(
        "--seconds", type=positive_int, default=10, help="length of each measured run (10)"
    )
    parser.add_argument(
        "--warmup", type=positive_int, default=2, help="length of each warm-up run (2)"
    )
    parser.add_argument("--clients", type=positive_int, default=64, help="concurrent clients (64)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return parser


def positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def configure_logging(verbose: bool) -> None:
    """Progress goes to stderr so stdout holds only the report."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # pgserver and SQLAlchemy are chatty at DEBUG in ways that drown the benchmark's own lines.
    for name in ("pgserver", "sqlalchemy", "asyncio"):
        logging.getLogger(name).setLevel(logging.WARNING)


# --- server and database --------------------------------------------------------------------


@contextmanager
def server(database_url: str | None) -> Iterator[Server]:
    """The given server, or embedded PostgreSQL in a temp dir that is deleted afterwards."""
    if database_url:
        libpq = to_libpq(database_url)
        yield Server(libpq, _system_pgbench(), "external")
        return
    data_dir = Path(tempfile.mkdtemp(prefix="tikiti-bench-"))
    services = EmbeddedServices(data_dir, delete_on_stop=True)
    try:
        urls = services.start()
        yield Server(urls.admin_database_url, _embedded_pgbench(), "embedded")
    finally:
        services.stop()
        shutil.rmtree(data_dir, ignore_errors=True)  # stop() keeps it when start() failed midway


@contextmanager
def embedded_services() -> Iterator[EmbeddedUrls]:
    """Embedded PostgreSQL and Redis in a temp dir that is deleted afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix="tikiti-bench-"))
    services = EmbeddedServices(data_dir, delete_on_stop=True)
    try:
        yield services.start()
    finally:
        services.stop()
        shutil.rmtree(data_dir, ignore_errors=True)  # stop() keeps it when start() failed midway


def to_libpq(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _system_pgbench() -> Path:
    found = shutil.which("pgbench")
    path = Path(found) if found else SYSTEM_PGBENCH
    if not path.exists():
        raise BenchError("pgbench not found; install postgresql-client")
    return path


def _embedded_pgbench() -> Path:
    """pgserver bundles its own client binaries; its pgbench matches the server's version."""
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        bundled = Path(spec.origin).parent / "pginstall" / "bin" / "pgbench"
        if bundled.exists():
            return bundled
    return _system_pgbench()


def database_url(server_url: str, name: str) -> str:
    """The same server URL (host, socket dir, options) pointing at another database."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + name))


@asynccontextmanager
async def throwaway_database(
    server_url: str, prefix: str = "tikiti_bench"
) -> AsyncIterator[BenchDatabase]:
    """A freshly migrated database, dropped WITH (FORCE) afterwards even if the run failed."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    logger.info("created database %s", name)
    try:
        database = BenchDatabase(
            name, database_url(server_url, name), asyncpg_url(server_url, name)
        )
        await schema.upgrade(database.asyncpg_url)
        yield database
    finally:
        await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        logger.info("dropped database %s", name)


async def _admin(server_url: str, sql: str) -> None:
    connection = await asyncpg.connect(server_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


# --- pgbench --------------------------------------------------------------------------------


async def run_pgbench(
    pgbench: Path,
    url: str,
    script: str,
    *,
    clients: int,
    seconds: int,
    threads: int = 2,
    variables: Mapping[str, object] | None = None,
) -> float:
    """Transactions per second of `script`, excluding connection set-up, as pgbench reports."""
    with tempfile.TemporaryDirectory(prefix="tikiti-pgbench-") as directory:
        script_path = Path(directory) / "script.sql"
        script_path.write_text(script)
        args = [
            "-n",
            f"-c{clients}",
            f"-j{min(threads, clients)}",
            f"-T{seconds}",
            "-Mprepared",
            f"-f{script_path}",
            *(f"-D{key}={value}" for key, value in (variables or {}).items()),
        ]
        output = await _run(pgbench, args, url)
    return parse_tps(output)


async def _run(program: Path, args: Sequence[str], url: str) -> str:
    """Runs with the password in PGPASSWORD rather than on a command line others can read."""
    dbname, env = _libpq_env(url)
    logger.debug("running %s %s", program, " ".join(args))
    process = await asyncio.create_subprocess_exec(
        str(program),
        *args,
        dbname,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    stdout, stderr = await process.communicate()
    output = stdout.decode(errors="replace")
    if process.returncode != 0:
        errors = stderr.decode(errors="replace")
        raise BenchError(
            f"{program.name} exited with {process.returncode}:\n{_excerpt(errors)}\n{output}"
        )
    return output


def _excerpt(text: str, lines: int = 12) -> str:
    """64 clients repeat the same error 64 times; the first few lines are the useful part."""
    kept = text.splitlines()
    more = f"\n... ({len(kept) - lines} more lines)" if len(kept) > lines else ""
    return "\n".join(kept[:lines]) + more


def _libpq_env(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    credentials, at, hostport = parts.netloc.rpartition("@")
    user, _, password = credentials.partition(":")
    env = dict(os.environ)
    if password:
        env["PGPASSWORD"] = unquote(password)
    return urlunsplit(parts._replace(netloc=f"{user}{at}{hostport}")), env


def parse_tps(output: str) -> float:
    match = _TPS_LINE.search(output)
    if match is None:
        raise BenchError(f"no tps line in pgbench output:\n{output}")
    failed = _FAILED_LINE.search(output)
    if failed is not None and int(failed.group(1)):
        raise BenchError(f"pgbench reported failed transactions:\n{output}")
    return float(match.group(1))


# --- figures and the report -----------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile; NaN for no values rather than an exception mid-report."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def print_table(title: str, rows: Sequence[tuple[str, str]]) -> None:
    """The final report is the one thing printed to stdout."""
    width = max(len(label) for label, _ in rows)
    print(title)
    print("-" * len(title))
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


def write_json(path: Path, figures: Mapping[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    logger.info("wrote %s", path)


# --- seeding --------------------------------------------------------------------------------

BENCH_PRICE = Money(1000, "USD")


async def seed_event(
    db: Database,
    keybox: KeyBox,
    *,
    code: str,
    capacity: int,
    doors_open_at: datetime | None = None,
    payment_methods: Sequence[str] = ("ecocash", "onemoney"),
) -> tuple[int, int, int]:
    """(organizer, event, tier) of one on-sale event with one general tier, for a benchmark."""
    doors = doors_open_at or datetime.now(UTC) + timedelta(days=30)
    async with db.transaction() as session:
        organizer = await setup.create_organizer(
            session, name="Bench Promotions", slug=f"bench-{secrets.token_hex(4)}",
            country="ZW", timezone="Africa/Harare", currency="USD",
        )  # fmt: skip
        venue = await setup.create_venue(
            session, organizer_id=organizer.id, name="Bench Arena", city="Harare",
            country="ZW", timezone="Africa/Harare",
        )  # fmt: skip
        spec = setup.EventSpec(
            organizer_id=organizer.id, venue_id=venue.id, code=code, name="Bench Festival",
            category="music", starts_at=doors + timedelta(hours=1),
            ends_at=doors + timedelta(hours=6), doors_open_at=doors, timezone="Africa/Harare",
            country="ZW", payment_methods=list(payment_methods),
        )  # fmt: skip
        event = await setup.create_event(session, keybox, spec, actor="bench")
        tier = await setup.add_tier(
            session,
            event.id,
            setup.TierSpec(code="GA", name="General", prices=[BENCH_PRICE], capacity=capacity),
        )
        await setup.publish(session, event, actor="bench")
        return organizer.id, event.id, tier.id
