"""`tikiti demo`: embedded servers, migrations, demo data, the app and the worker in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti import schema, worker
from tikiti.config import Settings
from tikiti.core import demo_data, payment_accounts
from tikiti.core.db import Database, make_engine
from tikiti.core.signing import KeyBox
from tikiti.embedded import EmbeddedServices
from tikiti.payments.sandbox import derived_credentials
from tikiti.web import create_app

logger = logging.getLogger(__name__)


def _private_file(path: Path, make: str) -> str:
    """Read a generated secret kept beside the demo data, creating it (mode 600) the first time."""
    if path.exists():
        return path.read_text().strip()
    path.touch(mode=0o600)
    path.write_text(make)
    return make


async def _sandbox_account(session: AsyncSession, settings: Settings, organizer_id: int) -> None:
    """The demo pays through the sandbox, dressed as EcoCash and OneMoney."""
    credentials = derived_credentials(settings.secret_key, f"{settings.public_url}/sandbox")
    await payment_accounts.save(
        session,
        KeyBox(settings.secret_key),
        organizer_id=organizer_id,
        provider="sandbox",
        methods=["ecocash", "onemoney"],
        credentials={**credentials, "merchant_name": "Harare Live", "timeout": "180"},
        live=False,
        actor="demo",
    )


async def _seed(settings: Settings, data_dir: Path) -> None:
    password = _private_file(data_dir / "admin-password", secrets.token_urlsafe(12))
    database = Database(make_engine(settings.database_url, pool_size=2))
    try:
        async with database.transaction() as session:
            seeded = await demo_data.seed(
                session, KeyBox(settings.secret_key), admin_password=password
            )
        if seeded:
            logger.info("seeded demo organizer with events %s", ", ".join(seeded.event_codes))
            async with database.transaction() as session:
                await _sandbox_account(session, settings, seeded.organizer_id)
    finally:
        await database.dispose()
    print(f"  admin login:  {demo_data.ADMIN_EMAIL} / {password}")


async def _serve(settings: Settings, database_url: str, data_dir: Path) -> None:
    await schema.upgrade(settings.database_url)
    print("Tikiti demo is running.")
    await _seed(settings, data_dir)
    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    base = f"http://{settings.host}:{settings.port}"
    print(f"  health:       {base}/healthz")
    print(f"  metrics:      {base}/metrics")
    print(f"  database:     {database_url}")
    print(f"  redis:        {settings.redis_url}")
    print(f"  data dir:     {data_dir}")
    print(f"  try it:       tikiti phone --url {base}   (a feature phone in your terminal)")
    print("Press Ctrl-C to stop.", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    background = asyncio.create_task(worker.main(settings, stop))
    try:
        await stop.wait()
    finally:
        print("Stopping…", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await background
        await runner.cleanup()


def run(data_dir: Path, host: str, port: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = _private_file(data_dir / "secret-key", secrets.token_urlsafe(48))
    services = EmbeddedServices(data_dir)
    urls = services.start()
    try:
        settings = Settings(
            database_url=urls.database_url,
            redis_url=urls.redis_url,
            secret_key=secret,
            environment="development",
            public_url=f"http://{host}:{port}",
            host=host,
            port=port,
            db_pool_size=10,
            sandbox_enabled=True,
        )
        asyncio.run(_serve(settings, urls.database_url, data_dir))
    finally:
        services.stop()
        print("Stopped; the data stays in", data_dir)
