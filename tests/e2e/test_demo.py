"""`tikiti demo` on a fresh data dir, stopped with SIGTERM, then started again on the same data."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    os.environ.get("TIKITI_SKIP_EMBEDDED_TESTS") == "1", reason="embedded servers disabled"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo(data_dir: Path, port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tikiti.cli",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_healthy(port: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("the demo did not become healthy")


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


def sign_in(port: int, email: str, password: str) -> str:
    """The admin login page with the printed credentials; returns the page signed in to."""
    base = f"http://127.0.0.1:{port}/admin"
    browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with browser.open(f"{base}/login", timeout=10) as response:
        found = re.search(r'name="csrf" value="([^"]+)"', response.read().decode())
    assert found is not None
    form = {"csrf": found.group(1), "email": email, "password": password}
    data = urllib.parse.urlencode(form).encode()
    with browser.open(f"{base}/login", data=data, timeout=10) as response:
        assert response.url == f"{base}/"  # followed the redirect to the dashboard
        return str(response.read().decode())


def test_demo_starts_serves_stops_and_reuses_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    port = free_port()
    first = start_demo(data_dir, port)
    try:
        wait_healthy(port, first)
    finally:
        out_first = stop(first)
    assert "seeded demo organizer with events ZIMFEST, DERBY, TECHSUM" in out_first
    assert f"http://127.0.0.1:{port}/healthz" in out_first
    assert "database:" in out_first and "admin login:" in out_first
    password_line = next(line for line in out_first.splitlines() if "admin login:" in line)

    second = start_demo(data_dir, port)
    try:
        wait_healthy(port, second)
        email, password = password_line.split("admin login:")[1].strip().split(" / ")
        assert "Harare Live Promotions" in sign_in(port, email, password)
    finally:
        out_second = stop(second)
    assert "seeded demo organizer" not in out_second  # the same data, not a second copy
    assert password_line in out_second
    leftovers = subprocess.run(
        ["pgrep", "-f", str(data_dir)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert leftovers == []
