"""The two servers the gate bench compares, each in its own process: tikiti and a bare handler."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from bench import ussd

ENDPOINT = "/api/checkin"
SERVER_KINDS = ("tikiti", "bare")
BARE_ANSWER = {
    "result": "admitted",
    "ticket": {"code": "0000000000", "tier": "General", "seat": None},
    "checked_in_at": "2026-01-01T18:00:00+00:00",
    "gate": "A",
    "reason": "",
}


async def bare_checkin(request: web.Request) -> web.Response:
    """Reads the body as the real handler does; answers a constant, touches nothing."""
    await request.json()
    return web.json_response(BARE_ANSWER)


async def serve(kind: str, fields: dict[str, Any]) -> None:
    sock = ussd.listening_socket()
    port = int(sock.getsockname()[1])
    if kind == "tikiti":
        app = ussd.tikiti_app(fields, port)
    else:
        app = web.Application()
        app.router.add_post(ENDPOINT, bare_checkin)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    stop = asyncio.Event()
    ussd.watch_lifeline(asyncio.get_running_loop(), stop)
    try:
        await web.SockSite(runner, sock).start()
        print(json.dumps({"port": port}), flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def serve_main(kind: str) -> int:
    logging.basicConfig(level=logging.WARNING, format=f"[{kind} server] %(name)s: %(message)s")
    asyncio.run(serve(kind, json.loads(sys.stdin.buffer.readline() or b"{}")))
    return 0


@asynccontextmanager
async def server_process(kind: str, fields: dict[str, Any]) -> AsyncIterator[ussd.ServerProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.checkin", "--serve", kind,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ussd.ROOT,
    )  # fmt: skip
    try:
        port = await ussd.ready(process, kind, fields)
        yield ussd.ServerProcess(kind, process, f"http://127.0.0.1:{port}{ENDPOINT}")
    finally:
        await ussd.stop_process(process, kind)
