"""USSD hops per second through the whole app, against a bare aiohttp handler on the same load.

Two measurements. Closed loop: every session sends its next hop the moment the last one is
answered, so the server is always saturated and the ratio of throughputs compares costs (its
latency is mostly queueing: sessions / throughput). With think time: every session is a person
who reads each screen for `--think` seconds (±50%) before pressing a key, as buyers do, so the
offered rate is about sessions / think and the latency is what a buyer would notice.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import random
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bench import common
from tikiti.config import Settings
from tikiti.core import payment_accounts
from tikiti.core.db import Database, make_engine
from tikiti.core.money import Money
from tikiti.core.signing import KeyBox
from tikiti.payments.sandbox import derived_credentials

logger = logging.getLogger("bench.ussd")

ENV_REDIS_URL = "TIKITI_BENCH_REDIS_URL"
TARGET_RATIO = 0.25  # closed loop: tikiti's throughput against the bare handler's
TARGET_P99_MS = 50.0  # with think time: what a buyer waits for a screen
THINK_SECONDS = 1.0
THINK_JITTER = 0.5  # each pause is uniform in think × (1 ± jitter)
CAPACITY = 10_000_000
PRICE = Money(1000, "USD")
ENDPOINT = "/channels/ussd/africastalking"
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
MAX_SCREEN = 182
HOP_TIMEOUT = 10.0
MAX_SAMPLES = 5
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
ROOT = Path(__file__).resolve().parent.parent
SERVER_KINDS = ("tikiti", "bare")
BARE_SCREEN = "CON Tikiti tickets\n1. Buy tickets\n2. My tickets\n3. Language"

# home → events → tiers → quantity → payer → method → confirm, never confirming, so no hold is
# ever placed and every journey costs the same. Each key's screen must show its marker.
JOURNEY = ("1", "1", "1", "2", "1", "1")
MARKERS = (
    "Tikiti tickets",
    "Choose an event",
    "choose a ticket",
    "How many",
    "Which number pays",
    "Pay with",
    "Confirm and pay",
)


@dataclass(frozen=True)
class Backends:
    admin_url: str  # libpq URL of a maintenance database
    redis_url: str
    kind: str


@dataclass
class Tally:
    """What the handsets of one run saw; shared by its tasks on one event loop."""

    latencies: list[float] = field(default_factory=list)
    failures: int = 0
    samples: dict[str, int] = field(default_factory=dict)  # a few distinct problems, counted

    def fail(self, problem: str) -> None:
        self.failures += 1
        if problem in self.samples or len(self.samples) < MAX_SAMPLES:
            self.samples[problem] = self.samples.get(problem, 0) + 1


@dataclass(frozen=True)
class Run:
    hops: int
    seconds: float
    latencies: list[float]
    failures: int
    samples: dict[str, int]
    server_cpu: float  # seconds of CPU the server process used during the run
    client_cpu: float  # the same for this process, the load generator
    machine_busy: float  # share of all the machine's CPUs busy, whoever used them

    @property
    def per_second(self) -> float:
        return self.hops / self.seconds


@dataclass(frozen=True)
class Figures:
    """Everything the report and --json show; ratios compare runs on the same machine only."""

    server: str
    sessions: int
    seconds: int
    # -- closed loop: no think time, the server saturated --
    bare_runs: list[float]
    bare_hops_per_second: float
    bare_p50_ms: float
    bare_p95_ms: float
    bare_p99_ms: float
    bare_server_cpu_ms_per_hop: float
    tikiti_hops: int
    tikiti_hops_per_second: float
    tikiti_p50_ms: float
    tikiti_p95_ms: float
    tikiti_p99_ms: float
    tikiti_server_cpu_ms_per_hop: float
    client_cpu_ms_per_hop: float
    tikiti_server_core_use: float  # server CPU seconds per second: 1.0 is one core saturated
    tikiti_machine_busy: float
    cpus: int
    ratio: float
    target_ratio: float
    ratio_passed: bool
    # -- with think time: people reading screens; zero/NaN when skipped with --think 0 --
    think_seconds: float  # the mean pause between hops
    think_jitter: float  # pauses are uniform in think_seconds × (1 ± think_jitter)
    think_run_seconds: int
    think_offered_per_second: float  # sessions / think_seconds: the rate people ask at
    bare_think_hops: int
    bare_think_hops_per_second: float
    bare_think_p50_ms: float
    bare_think_p95_ms: float
    bare_think_p99_ms: float
    tikiti_think_hops: int
    tikiti_think_hops_per_second: float
    tikiti_think_p50_ms: float
    tikiti_think_p95_ms: float
    tikiti_think_p99_ms: float
    tikiti_think_server_cpu_ms_per_hop: float
    tikiti_think_server_core_use: float
    target_p99_ms: float
    think_passed: bool
    passed: bool  # both targets met and no hop failed
    failures: int
    failure_samples: dict[str, int]


# --- the servers under test (child processes) -----------------------------------------------


async def bare_screen(request: web.Request) -> web.Response:
    return web.Response(text=BARE_SCREEN)


def bare_app() -> web.Application:
    app = web.Application()
    app.router.add_post(ENDPOINT, bare_screen)
    return app


def tikiti_app(fields: dict[str, Any], port: int) -> web.Application:
    from tikiti.web import create_app  # only the server process needs the whole app

    settings = Settings(**fields).with_overrides(public_url=f"http://127.0.0.1:{port}", port=port)
    return create_app(settings)


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


def watch_lifeline(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Stdin closes when the bench closes it or dies, so a server can never outlive it."""

    def wait_for_eof() -> None:
        sys.stdin.buffer.read()
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=wait_for_eof, daemon=True).start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def serve(kind: str, fields: dict[str, Any]) -> None:
    """Listens on a free port, says which on stdout, and serves until told to stop."""
    from tikiti.cli import tune_gc_after_startup  # as tikiti_app: only the servers need it

    sock = listening_socket()
    port = int(sock.getsockname()[1])
    app = tikiti_app(fields, port) if kind == "tikiti" else bare_app()
    tune_gc_after_startup(app)  # as `tikiti serve` does; both servers alike
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    watch_lifeline(asyncio.get_running_loop(), stop)
    try:
        await web.SockSite(runner, sock).start()
        print(json.dumps({"port": port}), flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def serve_main(kind: str) -> int:
    """The child's entry: its settings arrive as one JSON line on stdin, never in argv."""
    logging.basicConfig(
        level=logging.WARNING,
        format=f"%(asctime)s %(levelname)s [{kind} server] %(name)s: %(message)s",
    )
    fields = json.loads(sys.stdin.buffer.readline() or b"{}")
    from tikiti.cli import serving_loop

    with asyncio.Runner(loop_factory=serving_loop) as runner:  # `tikiti serve`'s event loop
        runner.run(serve(kind, fields))
    return 0


# --- the servers under test (seen from the bench) -------------------------------------------


@dataclass(frozen=True)
class ServerProcess:
    kind: str
    process: asyncio.subprocess.Process
    url: str

    @property
    def pid(self) -> int:
        return self.process.pid


@asynccontextmanager
async def server_process(kind: str, fields: dict[str, Any]) -> AsyncIterator[ServerProcess]:
    """`python -m bench.ussd --serve KIND`, stopped (and reaped) however the block ends."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ussd",
        "--serve",
        kind,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        port = await ready(process, kind, fields)
        logger.info("%s server: pid %d, port %d", kind, process.pid, port)
        yield ServerProcess(kind, process, f"http://127.0.0.1:{port}{ENDPOINT}")
    finally:
        await stop_process(process, kind)


async def ready(process: asyncio.subprocess.Process, kind: str, fields: dict[str, Any]) -> int:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(fields).encode() + b"\n")
    await process.stdin.drain()
    try:
        line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT)
    except TimeoutError:
        raise common.BenchError(
            f"the {kind} server did not start in {READY_TIMEOUT:.0f}s"
        ) from None
    if not line:
        raise common.BenchError(f"the {kind} server exited with {await process.wait()}")
    return int(json.loads(line)["port"])


async def stop_process(process: asyncio.subprocess.Process, kind: str) -> None:
    """Closing stdin asks for a clean stop; SIGTERM, then SIGKILL, if that is ignored."""
    if process.stdin is not None:
        process.stdin.close()
    for escalate in (process.terminate, process.kill):
        try:
            code = await asyncio.wait_for(asyncio.shield(process.wait()), STOP_TIMEOUT)
        except TimeoutError:
            logger.warning("the %s server did not stop; sending %s", kind, escalate.__name__)
            escalate()
        else:
            logger.info("%s server stopped (exit %d)", kind, code)
            return
    await process.wait()


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine from /proc/stat; (0, 0) without /proc."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return 0, 0
    user, nice, system, idle, iowait, irq, softirq, steal = map(int, first.split()[1:9])
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def busy_since(before: tuple[int, int]) -> float:
    busy, total = machine_jiffies()
    return (busy - before[0]) / (total - before[1]) if total > before[1] else float("nan")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process from /proc; NaN where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the load: virtual handsets -------------------------------------------------------------


def problem_with(status: int, screen: str, marker: str | None) -> str | None:
    if status != 200:
        return f"HTTP {status}"
    if not screen.startswith("CON "):
        return "not a CON screen"
    if len(screen) > MAX_SCREEN:
        return f"{len(screen)} characters, more than {MAX_SCREEN}"
    if marker is not None and marker not in screen:
        return f"no {marker!r} on screen"
    return None


@dataclass(frozen=True)
class Lane:
    """What every handset of one run shares: the client, the target, the clock, the tally."""

    http: aiohttp.ClientSession
    url: str
    deadline: float
    tally: Tally
    check: bool  # compare each screen with MARKERS (tikiti); the bare handler has one screen
    think: float = 0.0  # mean pause before each hop; 0 for a closed loop
    rng: random.Random = field(default_factory=random.Random)

    async def pause(self) -> None:
        """A person reading the screen: think × (1 ± jitter), never past the deadline."""
        if self.think <= 0:
            return
        wanted = self.think * self.rng.uniform(1 - THINK_JITTER, 1 + THINK_JITTER)
        await asyncio.sleep(max(0.0, min(wanted, self.deadline - time.perf_counter())))


async def hop(lane: Lane, form: dict[str, str]) -> tuple[int, str]:
    """One request as Africa's Talking sends it; its latency ends with the last byte read."""
    body = urlencode(form).encode()
    began = time.perf_counter()
    async with lane.http.post(lane.url, data=body, headers=FORM_HEADERS) as response:
        screen = await response.text()
    lane.tally.latencies.append(time.perf_counter() - began)
    return response.status, screen


async def journey(lane: Lane, phone: str) -> None:
    """Dial, then walk to the confirm screen: a new sessionId and cumulative text each time."""
    session_id = "ATUid_" + secrets.token_hex(8)
    inputs: list[str] = []
    for step, key in enumerate(("", *JOURNEY)):
        await lane.pause()
        if time.perf_counter() >= lane.deadline:
            return
        if key:
            inputs.append(key)
        form = {
            "sessionId": session_id,
            "serviceCode": "*384*1234#",
            "phoneNumber": phone,
            "networkCode": "64804",
            "text": "*".join(inputs),
        }
        try:
            status, screen = await hop(lane, form)
        except (aiohttp.ClientError, TimeoutError) as error:
            lane.tally.fail(f"hop {form['text']!r}: {type(error).__name__} {error}")
            return
        problem = problem_with(status, screen, MARKERS[step] if lane.check else None)
        if problem is not None:
            lane.tally.fail(f"hop {form['text']!r}: {problem}: {screen[:100]!r}")
            return  # the rest of this journey would only repeat the failure


async def handset(lane: Lane, number: int) -> None:
    """One phone per handset, so handsets never wait for each other's conversation lock.

    With think time each person also pauses before dialling, the first dial included, so
    people do not all dial in the same millisecond."""
    phone = f"+26377{9_000_000 + number:07d}"
    while time.perf_counter() < lane.deadline:
        await journey(lane, phone)


async def load(
    http: aiohttp.ClientSession,
    target: ServerProcess,
    sessions: int,
    seconds: int,
    *,
    think: float = 0.0,
) -> Run:
    tally = Tally()
    server_cpu, client_cpu = cpu_seconds(target.pid), time.process_time()
    machine = machine_jiffies()
    began = time.perf_counter()
    lane = Lane(
        http, target.url, began + seconds, tally, check=target.kind == "tikiti", think=think
    )
    async with asyncio.TaskGroup() as handsets:
        for number in range(sessions):
            handsets.create_task(handset(lane, number))
    return Run(
        hops=len(tally.latencies),
        seconds=time.perf_counter() - began,
        latencies=tally.latencies,
        failures=tally.failures,
        samples=tally.samples,
        server_cpu=cpu_seconds(target.pid) - server_cpu,
        client_cpu=time.process_time() - client_cpu,
        machine_busy=busy_since(machine),
    )


@asynccontextmanager
async def client(sessions: int) -> AsyncIterator[aiohttp.ClientSession]:
    """One connection per handset, kept alive across runs as the gateway's would be."""
    connector = aiohttp.TCPConnector(limit=sessions)
    timeout = aiohttp.ClientTimeout(total=HOP_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        yield http


# --- seeding --------------------------------------------------------------------------------


async def seed_event(db: Database, keybox: KeyBox) -> int:
    """One on-sale event whose general tier cannot sell out; returns its organizer."""
    organizer_id, _, _ = await common.seed_event(db, keybox, code="USSDBENCH", capacity=CAPACITY)
    return organizer_id


async def seed_sandbox_account(
    db: Database, keybox: KeyBox, settings: Settings, organizer_id: int
) -> None:
    """As the e2e tests do: the sandbox operator's keys, derived from the secret key."""
    credentials = derived_credentials(settings.secret_key, f"{settings.public_url}/sandbox")
    async with db.transaction() as session:
        await payment_accounts.save(
            session,
            keybox,
            organizer_id=organizer_id,
            provider="sandbox",
            methods=["ecocash", "onemoney"],
            credentials=credentials,
            live=False,
            actor="bench",
        )


async def seed(settings: Settings) -> None:
    db = Database(make_engine(settings.database_url, pool_size=1, max_overflow=0))
    keybox = KeyBox(settings.secret_key)
    try:
        organizer_id = await seed_event(db, keybox)
        await seed_sandbox_account(db, keybox, settings, organizer_id)
    finally:
        await db.dispose()
    logger.info("seeded organizer %d with one on-sale event", organizer_id)


# --- backends -------------------------------------------------------------------------------


@contextmanager
def backends(database_url: str | None, redis_url: str | None) -> Iterator[Backends]:
    """The given PostgreSQL and Redis; embedded ones (deleted afterwards) for what is missing."""
    if database_url and redis_url:
        yield Backends(common.to_libpq(database_url), redis_url, "external")
        return
    with common.embedded_services() as urls:
        yield Backends(
            common.to_libpq(database_url) if database_url else urls.admin_database_url,
            redis_url or urls.redis_url,
            backends_kind(database_url, redis_url),
        )


def backends_kind(database_url: str | None, redis_url: str | None) -> str:
    if not (database_url or redis_url):
        return "embedded"
    postgres = "external" if database_url else "embedded"
    redis = "external" if redis_url else "embedded"
    return f"{postgres} PostgreSQL, {redis} Redis"


def settings_for(database: common.BenchDatabase, redis_url: str) -> Settings:
    return Settings(
        database_url=database.asyncpg_url,
        redis_url=redis_url,
        secret_key=secrets.token_urlsafe(36),  # 48 characters
        environment="development",
        redis_prefix=f"tikiti-bench-{secrets.token_hex(6)}:",
        sandbox_enabled=True,
    )


async def clear_redis(redis_url: str, prefix: str) -> None:
    """Dialog sessions and locks of the run; the server is stopped by now."""
    redis = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    deleted = 0
    try:
        batch: list[bytes] = []
        async for key in redis.scan_iter(match=prefix + "*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += await redis.delete(*batch)
                batch = []
        if batch:
            deleted += await redis.delete(*batch)
    except (RedisError, OSError) as error:
        logger.warning("could not delete the keys under %s: %s", prefix, error)
    finally:
        await redis.aclose()
    logger.info("deleted %d redis keys under %s", deleted, prefix)


# --- the run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    baselines: list[Run]  # closed loop, bare: before and after tikiti's run
    tikiti: Run  # closed loop
    bare_think: Run | None  # with think time; None with --think 0
    tikiti_think: Run | None


async def measure(
    tikiti: ServerProcess, bare: ServerProcess, options: argparse.Namespace
) -> Measured:
    """Warm both up, then bare, tikiti, bare in a closed loop (the mean baseline brackets
    tikiti's run); then bare and tikiti again with think time."""
    sessions, seconds = options.clients, options.seconds
    async with client(sessions) as to_bare, client(sessions) as to_tikiti:
        logger.info("warming up for %ds each", options.warmup)
        await load(to_bare, bare, sessions, options.warmup)
        await load(to_tikiti, tikiti, sessions, options.warmup)
        logger.info("closed loop: bare handler, %d sessions, %ds", sessions, seconds)
        baselines = [await load(to_bare, bare, sessions, seconds)]
        logger.info("bare: %.0f hops/s; now tikiti", baselines[-1].per_second)
        run = await load(to_tikiti, tikiti, sessions, seconds)
        logger.info("tikiti: %.0f hops/s; now the bare handler again", run.per_second)
        baselines.append(await load(to_bare, bare, sessions, seconds))
        logger.info("bare: %.0f hops/s", baselines[-1].per_second)
        if options.think <= 0:
            return Measured(baselines, run, None, None)
        think, think_seconds = options.think, options.think_seconds or seconds
        logger.info(
            "with %.2fs think time: bare handler, %d sessions, %ds", think, sessions, think_seconds
        )
        bare_think = await load(to_bare, bare, sessions, think_seconds, think=think)
        logger.info("bare: p99 %.1f ms; now tikiti", ms(p99_of(bare_think)))
        tikiti_think = await load(to_tikiti, tikiti, sessions, think_seconds, think=think)
        logger.info("tikiti: p99 %.1f ms", ms(p99_of(tikiti_think)))
    return Measured(baselines, run, bare_think, tikiti_think)


def p99_of(run: Run) -> float:
    return common.percentile(run.latencies, 0.99)


async def run(found: Backends, options: argparse.Namespace) -> Figures:
    async with common.throwaway_database(found.admin_url, prefix="tikiti_bench_ussd") as database:
        settings = settings_for(database, found.redis_url)
        try:
            await seed(settings)
            fields = asdict(settings)
            async with (
                server_process("tikiti", fields) as tikiti,
                server_process("bare", {}) as bare,
            ):
                measured = await measure(tikiti, bare, options)
        finally:
            await clear_redis(settings.redis_url, settings.redis_prefix)
    return figures(found, options, measured)


def ms(seconds: float) -> float:
    return seconds * 1000


def per_hop_ms(cpu: float, hops: int) -> float:
    return ms(cpu / hops) if hops else float("nan")


def figures(found: Backends, options: argparse.Namespace, measured: Measured) -> Figures:
    baselines, tikiti = measured.baselines, measured.tikiti
    bare_think, tikiti_think = measured.bare_think, measured.tikiti_think
    bare_per_second = mean(r.per_second for r in baselines)
    if bare_per_second <= 0:
        raise common.BenchError("the bare handler served no hops")
    bare_latencies = [latency for r in baselines for latency in r.latencies]
    bare_hops = sum(r.hops for r in baselines)
    ratio = tikiti.per_second / bare_per_second
    think_p99 = ms(p99_of(tikiti_think)) if tikiti_think else math.nan
    runs = [tikiti, *baselines, *(r for r in (bare_think, tikiti_think) if r is not None)]
    failures = sum(r.failures for r in runs)
    ratio_passed = ratio >= TARGET_RATIO
    think_passed = think_p99 < TARGET_P99_MS  # False when skipped: NaN compares false
    return Figures(
        server=found.kind,
        sessions=options.clients,
        seconds=options.seconds,
        bare_runs=[r.per_second for r in baselines],
        bare_hops_per_second=bare_per_second,
        bare_p50_ms=ms(common.percentile(bare_latencies, 0.50)),
        bare_p95_ms=ms(common.percentile(bare_latencies, 0.95)),
        bare_p99_ms=ms(common.percentile(bare_latencies, 0.99)),
        bare_server_cpu_ms_per_hop=per_hop_ms(sum(r.server_cpu for r in baselines), bare_hops),
        tikiti_hops=tikiti.hops,
        tikiti_hops_per_second=tikiti.per_second,
        tikiti_p50_ms=ms(common.percentile(tikiti.latencies, 0.50)),
        tikiti_p95_ms=ms(common.percentile(tikiti.latencies, 0.95)),
        tikiti_p99_ms=ms(p99_of(tikiti)),
        tikiti_server_cpu_ms_per_hop=per_hop_ms(tikiti.server_cpu, tikiti.hops),
        client_cpu_ms_per_hop=per_hop_ms(tikiti.client_cpu, tikiti.hops),
        tikiti_server_core_use=tikiti.server_cpu / tikiti.seconds,
        tikiti_machine_busy=tikiti.machine_busy,
        cpus=os.cpu_count() or 1,
        ratio=ratio,
        target_ratio=TARGET_RATIO,
        ratio_passed=ratio_passed,
        think_seconds=options.think,
        think_jitter=THINK_JITTER if options.think > 0 else 0.0,
        think_run_seconds=(options.think_seconds or options.seconds) if tikiti_think else 0,
        think_offered_per_second=options.clients / options.think if options.think > 0 else 0.0,
        bare_think_hops=bare_think.hops if bare_think else 0,
        bare_think_hops_per_second=bare_think.per_second if bare_think else math.nan,
        bare_think_p50_ms=percentile_ms(bare_think, 0.50),
        bare_think_p95_ms=percentile_ms(bare_think, 0.95),
        bare_think_p99_ms=percentile_ms(bare_think, 0.99),
        tikiti_think_hops=tikiti_think.hops if tikiti_think else 0,
        tikiti_think_hops_per_second=tikiti_think.per_second if tikiti_think else math.nan,
        tikiti_think_p50_ms=percentile_ms(tikiti_think, 0.50),
        tikiti_think_p95_ms=percentile_ms(tikiti_think, 0.95),
        tikiti_think_p99_ms=think_p99,
        tikiti_think_server_cpu_ms_per_hop=(
            per_hop_ms(tikiti_think.server_cpu, tikiti_think.hops) if tikiti_think else math.nan
        ),
        tikiti_think_server_core_use=(
            tikiti_think.server_cpu / tikiti_think.seconds if tikiti_think else math.nan
        ),
        target_p99_ms=TARGET_P99_MS,
        think_passed=think_passed,
        passed=ratio_passed and think_passed and not failures,
        failures=failures,
        failure_samples=merged_samples(runs),
    )


def percentile_ms(run: Run | None, fraction: float) -> float:
    return ms(common.percentile(run.latencies, fraction)) if run else math.nan


def merged_samples(runs: Sequence[Run]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for run in runs:
        for problem, count in run.samples.items():
            merged[problem] = merged.get(problem, 0) + count
    return merged


def verdict(f: Figures) -> str:
    if f.failures:
        return "FAILED: some hops were answered wrongly or not at all"
    return "PASS" if f.passed else "BELOW TARGET"


def met(passed: bool) -> str:
    return "met" if passed else "NOT MET"


def report(f: Figures) -> None:
    runs = " / ".join(f"{r:,.0f}" for r in f.bare_runs)
    rows = [
        (f"closed loop, {f.seconds}s per run", "(no think time: the server always saturated)"),
        ("  bare hops/s", f"{f.bare_hops_per_second:,.0f}  (runs: {runs})"),
        ("  bare p50 / p95 / p99", latencies(f.bare_p50_ms, f.bare_p95_ms, f.bare_p99_ms)),
        ("  tikiti hops/s", f"{f.tikiti_hops_per_second:,.0f}  ({f.tikiti_hops:,} hops)"),
        (
            "  tikiti p50 / p95 / p99",
            latencies(f.tikiti_p50_ms, f.tikiti_p95_ms, f.tikiti_p99_ms)
            + "  (queueing: sessions / throughput)",
        ),
        (
            "  tikiti / bare",
            f"{f.ratio:.1%}  target >= {f.target_ratio:.0%}: {met(f.ratio_passed)}",
        ),
        (
            "  server CPU per hop",
            f"tikiti {f.tikiti_server_cpu_ms_per_hop:.2f} ms, "
            f"bare {f.bare_server_cpu_ms_per_hop:.2f} ms "
            f"(load generator {f.client_cpu_ms_per_hop:.2f} ms)",
        ),
        (
            "  during tikiti's run",
            f"its server used {f.tikiti_server_core_use:.0%} of a core; "
            f"{f.tikiti_machine_busy:.0%} of all {f.cpus} CPUs were busy",
        ),
        *think_rows(f),
        ("result", verdict(f)),
        ("failed hops", f"{f.failures:,}" + ("" if f.failures else "  (all CON, <= 182 chars)")),
        *((f"  {count:,} x", problem) for problem, count in f.failure_samples.items()),
    ]
    common.print_table(f"USSD hops ({f.server} server, {f.sessions} sessions)", rows)


def think_rows(f: Figures) -> list[tuple[str, str]]:
    if not f.tikiti_think_hops:
        return [("with think time", f"skipped (--think 0); target p99 < {f.target_p99_ms:.0f} ms")]
    return [
        (
            f"with think time, {f.think_run_seconds}s per run",
            f"(each person pauses {f.think_seconds:g}s ±{f.think_jitter:.0%} before each hop)",
        ),
        (
            "  offered",
            f"~{f.think_offered_per_second:,.0f} hops/s ({f.sessions} sessions / "
            f"{f.think_seconds:g}s); served: bare {f.bare_think_hops_per_second:,.0f}, "
            f"tikiti {f.tikiti_think_hops_per_second:,.0f} hops/s",
        ),
        (
            "  bare p50 / p95 / p99",
            latencies(f.bare_think_p50_ms, f.bare_think_p95_ms, f.bare_think_p99_ms)
            + f"  ({f.bare_think_hops:,} hops)",
        ),
        (
            "  tikiti p50 / p95 / p99",
            latencies(f.tikiti_think_p50_ms, f.tikiti_think_p95_ms, f.tikiti_think_p99_ms)
            + f"  ({f.tikiti_think_hops:,} hops)",
        ),
        (
            "  tikiti p99",
            f"{f.tikiti_think_p99_ms:.1f} ms  target < {f.target_p99_ms:.0f} ms: "
            f"{met(f.think_passed)}",
        ),
        (
            "  tikiti server",
            f"{f.tikiti_think_server_cpu_ms_per_hop:.2f} ms CPU per hop, "
            f"{f.tikiti_think_server_core_use:.0%} of a core",
        ),
    ]


def latencies(p50: float, p95: float, p99: float) -> str:
    return f"{p50:.1f} ms / {p95:.1f} ms / {p99:.1f} ms"


# --- command line ---------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    parser = common.base_parser("python -m bench.ussd", __doc__ or "")
    parser.add_argument(
        "--sessions",
        dest="clients",
        metavar="N",
        type=common.positive_int,
        default=64,
        help="concurrent USSD sessions (64); same as --clients",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get(ENV_REDIS_URL),
        help=f"Redis URL (default ${ENV_REDIS_URL}; without either, embedded Redis is started)",
    )
    parser.add_argument(
        "--think",
        type=non_negative_float,
        default=THINK_SECONDS,
        metavar="SECONDS",
        help=f"mean pause of each person before each hop in the second measurement "
        f"({THINK_SECONDS:g}, ±{THINK_JITTER * 100:.0f}%%); 0 skips it",  # %% for argparse
    )
    parser.add_argument(
        "--think-seconds",
        type=common.positive_int,
        metavar="N",
        help="length of each run with think time (default: --seconds)",
    )
    parser.add_argument("--serve", choices=SERVER_KINDS, help=argparse.SUPPRESS)
    return parser


def non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError("must be a finite number, at least 0")
    return value


def main(argv: list[str] | None = None) -> int:
    """0 even below target (a measurement, not a test); 1 when hops failed or the run broke."""
    options = parser().parse_args(argv)
    if options.serve:
        return serve_main(options.serve)
    common.configure_logging(options.verbose)
    try:
        with backends(options.database_url, options.redis_url) as found:
            result = asyncio.run(run(found, options))
    except (common.BenchError, OSError, asyncpg.PostgresError) as error:
        logger.error("benchmark failed: %s", error)
        return 1
    report(result)
    if options.json:
        common.write_json(options.json, asdict(result))
    if result.failures:
        logger.error("%d hops failed", result.failures)
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
