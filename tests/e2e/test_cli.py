"""The `tikiti` command as an operator runs it, in a subprocess with only the environment."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from tests.conftest import TEST_SECRET, create_database, drop_database
from tikiti import schema
from tikiti.core.db import Database, make_engine
from tikiti.core.models import Event, Organizer, User


def tikiti(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tikiti.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), **env},
        timeout=120,
        check=False,
    )


def cli_env(database_url: str, redis_url: str) -> dict[str, str]:
    """What an operator exports before running `tikiti`, for a test's own database."""
    return {
        "TIKITI_DATABASE_URL": database_url,
        "TIKITI_REDIS_URL": redis_url,
        "TIKITI_SECRET_KEY": TEST_SECRET,
        "TIKITI_CALLBACK_TOKEN": "cli-test-callback-token",
        "TIKITI_PUBLIC_URL": "https://tickets.example.org",
    }


async def run(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(tikiti, *args, env=env, stdin=stdin)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "TIKITI_DATABASE_URL is not set"),
        ({"TIKITI_DATABASE_URL": "mysql://x/y"}, "TIKITI_DATABASE_URL must be a URL"),
        (
            {"TIKITI_DATABASE_URL": "postgresql://x/y", "TIKITI_REDIS_URL": "redis://x"},
            "TIKITI_SECRET_KEY must be a random string",
        ),
        (
            {
                "TIKITI_DATABASE_URL": "postgresql://x/y",
                "TIKITI_REDIS_URL": "redis://x",
                "TIKITI_SECRET_KEY": TEST_SECRET,
                "TIKITI_CALLBACK_TOKEN": "cli-test-callback-token",
                "TIKITI_PUBLIC_URL": "https://tickets.example.org",
                "TIKITI_PORT": "eighty",
            },
            "TIKITI_PORT must be a whole number",
        ),
    ],
)
async def test_a_bad_setting_stops_with_one_line_naming_it(
    env: dict[str, str], message: str
) -> None:
    result = await run("serve", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tikiti: ")
    assert message in lines[0]


async def test_upgrade_seed_and_add_user_on_a_fresh_database(
    server_url: str, redis_url: str
) -> None:
    name, url = await create_database(server_url)
    env = cli_env(url, redis_url)
    try:
        for _ in range(2):  # empty database, then an up-to-date one
            result = await run("db", "upgrade", env=env)
            assert result.returncode == 0, result.stderr
        assert await schema.differences(url) == []
        first = await run("seed", "--demo", env=env)
        second = await run("seed", "--demo", env=env)
        assert first.returncode == second.returncode == 0
        assert "ZIMFEST" in first.stdout and "already exists" in second.stdout
        added = await run(
            "user",
            "add",
            "--organizer",
            "harare-live",
            "--email",
            "Gate@Example.org",
            "--role",
            "gate",
            "--password-stdin",
            env=env,
            stdin="a long enough password\n",
        )
        assert added.returncode == 0, added.stderr
        duplicate = await run(
            "user",
            "add",
            "--organizer",
            "harare-live",
            "--email",
            "gate@example.org",
            "--role",
            "gate",
            "--password-stdin",
            env=env,
            stdin="a long enough password\n",
        )
        assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
        unknown = await run(
            "user",
            "add",
            "--organizer",
            "nobody",
            "--email",
            "x@example.org",
            "--role",
            "owner",
            "--password-stdin",
            env=env,
            stdin="a long enough password\n",
        )
        assert unknown.returncode == 2 and "no organizer" in unknown.stderr
        staff = ("gate", "staff", "add", "--event", "zimfest", "--gate", "B")
        added_staff = await run(*staff, "--phone", "0771234567", "--name", "Rudo", env=env)
        assert added_staff.returncode == 0, added_staff.stderr
        assert "+263771234567 at gate B of ZIMFEST. PIN " in added_staff.stdout
        again = await run(*staff, "--phone", "+263771234567", env=env)
        assert again.returncode == 2 and "already gate staff" in again.stderr
        bad_phone = await run(*staff, "--phone", "12", env=env)
        assert bad_phone.returncode == 2 and "tikiti: " in bad_phone.stderr
        listed = await run("gate", "staff", "list", "--event", "ZIMFEST", env=env)
        staff_id = listed.stdout.split("\t")[0]
        assert "+263771234567\tRudo" in listed.stdout
        revoked = await run("gate", "staff", "revoke", "--id", staff_id, env=env)
        assert revoked.returncode == 0 and f"Revoked gate staff {staff_id}" in revoked.stdout
        assert (await run("gate", "staff", "revoke", "--id", staff_id, env=env)).returncode == 2
        database = Database(make_engine(url, pool_size=1))
        try:
            async with database.session() as session:
                assert await session.scalar(select(func.count()).select_from(Organizer)) == 1
                assert await session.scalar(select(func.count()).select_from(Event)) == 3
                emails = set((await session.scalars(select(User.email))).all())
        finally:
            await database.dispose()
        assert "gate@example.org" in emails
    finally:
        await drop_database(server_url, name)


async def test_payments_account_and_reconcile_commands(server_url: str, redis_url: str) -> None:
    name, url = await create_database(server_url)
    env = cli_env(url, redis_url)
    try:
        assert (await run("db", "upgrade", env=env)).returncode == 0
        assert (await run("seed", "--demo", env=env)).returncode == 0
        args = ("payments", "account", "--organizer", "harare-live", "--provider", "paynow")
        good = '{"integration_id": "1", "integration_key": "k", "auth_email": "a@b.org"}'
        saved = await run(*args, "--methods", "ecocash", "--credentials-stdin", env=env, stdin=good)
        assert saved.returncode == 0, saved.stderr
        assert "paynow now takes ecocash" in saved.stdout
        wrong_method = await run(
            *args, "--methods", "mpesa", "--credentials-stdin", env=env, stdin=good
        )
        assert wrong_method.returncode == 2 and "does not take mpesa" in wrong_method.stderr
        not_json = await run(
            *args, "--methods", "ecocash", "--credentials-stdin", env=env, stdin="{"
        )
        assert not_json.returncode == 2 and "not JSON" in not_json.stderr
        report = await run(
            "payments", "reconcile", "--provider", "paynow", "--since", "2026-01-01", env=env
        )
        assert report.returncode == 0 and "0 disagreement(s) with paynow" in report.stdout
        bad_date = await run(
            "payments", "reconcile", "--provider", "paynow", "--since", "yesterday", env=env
        )
        assert bad_date.returncode == 2 and "not a date" in bad_date.stderr
    finally:
        await drop_database(server_url, name)
