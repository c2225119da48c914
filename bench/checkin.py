"""Gate check-ins per second through POST /api/checkin beside a bare aiohttp handler, and offline
QR and code verifications per second (tikiti.core.offline) beside raw cryptography and hashlib."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import secrets
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import aiohttp
import asyncpg

from bench import common, ussd
from bench.checkin_offline import offline_rates, offline_rows
from bench.checkin_seed import seed
from bench.checkin_servers import SERVER_KINDS, serve_main, server_process

logger = logging.getLogger("bench.checkin")

TIMEOUT = 10.0
MAX_SAMPLES = 5


# --- the load: scanners ---------------------------------------------------------------------


# --- the load: scanners ---------------------------------------------------------------------


@dataclass
class Run:
    """What the scanners of one run saw; shared by their tasks on one event loop."""

    seconds: float = 0.0
    server_cpu: float = 0.0  # CPU seconds the server process used during the run
    latencies: list[float] = field(default_factory=list)
    results: Counter[str] = field(default_factory=Counter)
    samples: Counter[str] = field(default_factory=Counter)  # a few distinct problems, counted

    def fail(self, problem: str) -> None:
        known = problem in self.samples or len(self.samples) < MAX_SAMPLES
        self.samples[problem if known else "(other problems)"] += 1

    @property
    def failures(self) -> int:
        return sum(self.samples.values())

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def cpu_ms(self) -> float:
        """Server CPU per scan: on a small machine, the figure that travels best."""
        return 1000 * self.server_cpu / max(1, len(self.latencies))


async def scanner(
    http: aiohttp.ClientSession,
    url: str,
    token: str,
    codes: Iterator[str],
    deadline: float,
    tally: Run,
) -> None:
    """One gate device scanning as fast as answers come back, a new nonce per scan."""
    headers = {"Authorization": f"Bearer {token}"}
    while time.perf_counter() < deadline:
        body = {"nonce": secrets.token_hex(12), "code": next(codes)}
        began = time.perf_counter()
        try:
            async with http.post(url, json=body, headers=headers) as response:
                status, answer = response.status, await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            tally.fail(f"{type(error).__name__}: {error}")
            continue
        tally.latencies.append(time.perf_counter() - began)
        result = answer.get("result") if isinstance(answer, dict) else None
        if status != 200 or result not in ("admitted", "already_used"):
            tally.fail(f"HTTP {status}: {str(answer)[:100]}")
        else:
            tally.results[str(result)] += 1


async def load(
    target: ussd.ServerProcess, token: str, codes: Iterator[str], clients: int, seconds: int
) -> Run:
    tally = Run()
    connector = aiohttp.TCPConnector(limit=clients)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        began, cpu = time.perf_counter(), ussd.cpu_seconds(target.pid)
        async with asyncio.TaskGroup() as scanners:
            for _ in range(clients):
                scanners.create_task(
                    scanner(http, target.url, token, codes, began + seconds, tally)
                )
        tally.seconds = time.perf_counter() - began
        tally.server_cpu = ussd.cpu_seconds(target.pid) - cpu
    return tally


async def measure_http(found: ussd.Backends, options: argparse.Namespace) -> tuple[list[Run], Run]:
    """Warm both up, then bare, tikiti, bare: the mean baseline brackets tikiti's run."""
    async with common.throwaway_database(found.admin_url, prefix="tikiti_bench_gate") as database:
        settings = ussd.settings_for(database, found.redis_url)
        token, codes = await seed(settings, options.tickets)
        fresh = itertools.cycle(codes)  # past the last ticket, scans become second scans
        bare_codes = itertools.cycle(codes)
        try:
            async with (
                server_process("tikiti", asdict(settings)) as tikiti,
                server_process("bare", {}) as bare,
            ):
                n, s, w = options.clients, options.seconds, options.warmup
                await load(bare, token, bare_codes, n, w)
                await load(tikiti, token, fresh, n, w)
                baselines = [await load(bare, token, bare_codes, n, s)]
                run = await load(tikiti, token, fresh, n, s)
                baselines.append(await load(bare, token, bare_codes, n, s))
        finally:
            await ussd.clear_redis(settings.redis_url, settings.redis_prefix)
    return baselines, run


# --- figures and report ---------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    server: str
    clients: int
    seconds: int
    cpus: int
    bare_per_second: float
    bare_p50_ms: float
    bare_p99_ms: float
    bare_server_cpu_ms: float
    checkin_per_second: float
    checkin_p50_ms: float
    checkin_p99_ms: float
    checkin_server_cpu_ms: float
    checkin_answers: dict[str, int]
    checkin_ratio: float
    failures: int
    failure_samples: dict[str, int]
    offline: dict[str, float]


def ms(latencies: list[float], fraction: float) -> float:
    return 1000 * common.percentile(latencies, fraction)


def figures(
    found: ussd.Backends, options: argparse.Namespace, baselines: list[Run], run: Run
) -> Figures:
    bare = [latency for r in baselines for latency in r.latencies]
    bare_per_second = sum(r.per_second for r in baselines) / len(baselines)
    samples = sum((r.samples for r in (run, *baselines)), Counter[str]())
    return Figures(
        server=found.kind,
        clients=options.clients,
        seconds=options.seconds,
        cpus=os.cpu_count() or 1,
        bare_per_second=bare_per_second,
        bare_p50_ms=ms(bare, 0.5),
        bare_p99_ms=ms(bare, 0.99),
        bare_server_cpu_ms=sum(r.cpu_ms for r in baselines) / len(baselines),
        checkin_per_second=run.per_second,
        checkin_p50_ms=ms(run.latencies, 0.5),
        checkin_p99_ms=ms(run.latencies, 0.99),
        checkin_server_cpu_ms=run.cpu_ms,
        checkin_answers=dict(run.results),
        checkin_ratio=run.per_second / bare_per_second,
        failures=run.failures + sum(r.failures for r in baselines),
        failure_samples=dict(samples),
        offline=offline_rates(max(1, options.seconds // 3)),
    )


def speed(per_second: float, p50: float, p99: float) -> str:
    return f"{per_second:>9,.0f} /s   p50 {p50:.1f} ms, p99 {p99:.1f} ms"


def report(f: Figures) -> None:
    answers = ", ".join(f"{name} {n:,}" for name, n in sorted(f.checkin_answers.items()))
    rows = [
        ("bare handler", speed(f.bare_per_second, f.bare_p50_ms, f.bare_p99_ms)),
        ("POST /api/checkin", speed(f.checkin_per_second, f.checkin_p50_ms, f.checkin_p99_ms)),
        ("  answers", answers),
        ("  checkin / bare", f"{f.checkin_ratio:.1%}"),
        (
            "  server CPU per scan",
            f"checkin {f.checkin_server_cpu_ms:.2f} ms, bare {f.bare_server_cpu_ms:.2f} ms",
        ),
        *offline_rows(f.offline),
        ("failed scans", f"{f.failures:,}"),
        *((f"  {n:,} x", problem) for problem, n in f.failure_samples.items()),
    ]
    title = f"Gate check-ins ({f.server}, {f.clients} scanners, {f.seconds}s, {f.cpus} CPUs)"
    common.print_table(title, rows)


# --- command line ---------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    parser = common.base_parser("python -m bench.checkin", __doc__ or "")
    parser.add_argument(
        "--tickets", type=common.positive_int, default=60_000, help="tickets to seed (60000)"
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get(ussd.ENV_REDIS_URL),
        help="Redis URL (default: embedded)",
    )
    parser.add_argument("--serve", choices=SERVER_KINDS, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    """0 unless scans failed or the run broke: a measurement, not a test."""
    options = parser().parse_args(argv)
    if options.serve:
        return serve_main(options.serve)
    common.configure_logging(options.verbose)
    try:
        with ussd.backends(options.database_url, options.redis_url) as found:
            baselines, run = asyncio.run(measure_http(found, options))
    except (common.BenchError, OSError, asyncpg.PostgresError) as error:
        logger.error("benchmark failed: %s", error)
        return 1
    logger.info("offline verification, %ds each", max(1, options.seconds // 3))
    result = figures(found, options, baselines, run)
    report(result)
    if options.json:
        common.write_json(options.json, asdict(result))
    return 1 if result.failures else 0


if __name__ == "__main__":
    sys.exit(main())
