"""Embedded PostgreSQL and Redis start from nothing, keep data across restarts and stop cleanly."""

import asyncio
import os
import sys
import textwrap
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tikiti.embedded import EmbeddedServices, EmbeddedUrls, asyncpg_url

pytestmark = [
    pytest.mark.embedded,
    pytest.mark.skipif(
        os.environ.get("TIKITI_SKIP_EMBEDDED_TESTS") == "1",
        reason="TIKITI_SKIP_EMBEDDED_TESTS=1",
    ),
]


async def _write(urls: EmbeddedUrls) -> None:
    engine = create_async_engine(urls.database_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE note (body text)"))
        await conn.execute(text("INSERT INTO note VALUES ('karibu')"))
    await engine.dispose()
    client = aioredis.from_url(urls.redis_url)
    await client.set("greeting", "jambo")
    await client.aclose()


async def _read(urls: EmbeddedUrls) -> tuple[list[str], bytes | str | None]:
    engine = create_async_engine(urls.database_url)
    async with engine.connect() as conn:
        rows = list((await conn.execute(text("SELECT body FROM note"))).scalars())
    await engine.dispose()
    client = aioredis.from_url(urls.redis_url)
    value = await client.get("greeting")
    await client.aclose()
    return rows, value


async def _setting(urls: EmbeddedUrls, name: str) -> str:
    engine = create_async_engine(urls.database_url)
    async with engine.connect() as conn:
        value = (await conn.execute(text("SELECT current_setting(:n)"), {"n": name})).scalar_one()
    await engine.dispose()
    return str(value)


def _assert_stopped(data_dir: Path, urls: EmbeddedUrls) -> None:
    assert not (data_dir / "pg" / "postmaster.pid").exists()
    _assert_redis_socket_gone(urls)


def _assert_redis_socket_gone(urls: EmbeddedUrls) -> None:
    assert not Path(urls.redis_url.removeprefix("unix://")).exists()


def _exists(path: Path) -> bool:
    return path.exists()


def test_asyncpg_url_keeps_the_socket_dir() -> None:
    url = asyncpg_url("postgresql://postgres:@/postgres?host=/tmp/a b/pg", "tikiti")

    assert url == "postgresql+asyncpg://postgres@/tikiti?host=/tmp/a%20b/pg"
    parsed = make_url(url)
    assert (parsed.database, parsed.query["host"]) == ("tikiti", "/tmp/a b/pg")
    assert asyncpg_url("postgresql://u:pw@h:5433/db") == "postgresql+asyncpg://u:pw@h:5433/db"


async def test_data_survives_restart_and_stop_is_idempotent(tmp_path: Path) -> None:
    services = EmbeddedServices(tmp_path)
    urls = services.start()
    assert services.start() == urls
    assert urls.database_url.startswith("postgresql+asyncpg://")
    assert int(await _setting(urls, "server_version_num")) >= 160000
    assert int(await _setting(urls, "max_connections")) >= 300
    await _write(urls)
    services.stop()
    services.stop()
    _assert_stopped(tmp_path, urls)

    again = services.start()
    assert await _read(again) == (["karibu"], b"jambo")
    assert int(await _setting(again, "max_connections")) >= 300
    services.stop()
    _assert_stopped(tmp_path, again)


async def test_a_new_process_sees_the_data(tmp_path: Path) -> None:
    with EmbeddedServices(tmp_path) as urls:
        await _write(urls)
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        from sqlalchemy import text
        from sqlalchemy.ext.asyncio import create_async_engine
        from tikiti.embedded import EmbeddedServices

        async def main(url):
            engine = create_async_engine(url)
            async with engine.connect() as conn:
                print((await conn.execute(text("SELECT body FROM note"))).scalar_one())
            await engine.dispose()

        with EmbeddedServices(Path({str(tmp_path)!r})) as urls:
            asyncio.run(main(urls.database_url))
        """
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        cwd=Path(__file__).parents[2],
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(child.communicate(), timeout=120)
    assert child.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "karibu"
    _assert_stopped(tmp_path, urls)


async def test_delete_on_stop_removes_everything(tmp_path: Path) -> None:
    data_dir = tmp_path / "scratch"
    with EmbeddedServices(data_dir, delete_on_stop=True) as urls:
        await _write(urls)
        assert _exists(data_dir / "pg" / "PG_VERSION")
    assert not _exists(data_dir)
    _assert_redis_socket_gone(urls)


def test_one_owner_per_data_dir_per_process(tmp_path: Path) -> None:
    with EmbeddedServices(tmp_path), pytest.raises(RuntimeError, match="already running"):
        EmbeddedServices(tmp_path).start()
