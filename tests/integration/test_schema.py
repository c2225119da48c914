"""The schema comes only from migrations, and the models agree with it."""

from __future__ import annotations

from tikiti import schema


async def test_models_and_migrations_agree(database_url: str) -> None:
    assert await schema.differences(database_url) == []


async def test_upgrade_on_an_up_to_date_database_changes_nothing(database_url: str) -> None:
    await schema.upgrade(database_url)
    assert await schema.differences(database_url) == []
