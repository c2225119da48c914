"""The audit log: who changed what, for the organizer's owners to read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tikiti.core.models import AuditEntry


async def record(
    session: AsyncSession,
    *,
    organizer_id: int | None,
    actor: str,
    action: str,
    entity: str,
    entity_id: object = None,
    data: dict[str, object] | None = None,
) -> None:
    await session.execute(
        insert(AuditEntry).values(
            organizer_id=organizer_id,
            actor=actor,
            action=action,
            entity=entity,
            entity_id=None if entity_id is None else str(entity_id),
            data=data or {},
        )
    )


@dataclass(frozen=True, slots=True)
class Entry:
    id: int
    created_at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    data: dict[str, object]


@dataclass(frozen=True, slots=True)
class Page:
    entries: tuple[Entry, ...]
    number: int
    has_next: bool


async def page(
    session: AsyncSession | AsyncConnection, organizer_id: int, *, number: int, size: int = 50
) -> Page:
    """One page of an organizer's log, newest first; numbers start at 1."""
    number = max(1, number)
    query = (
        select(
            AuditEntry.id,
            AuditEntry.created_at,
            AuditEntry.actor,
            AuditEntry.action,
            AuditEntry.entity,
            AuditEntry.entity_id,
            AuditEntry.data,
        )
        .where(AuditEntry.organizer_id == organizer_id)
        .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .limit(size + 1)  # one more than shown says whether there is a next page
        .offset((number - 1) * size)
    )
    rows = (await session.execute(query)).all()
    return Page(tuple(Entry(*row) for row in rows[:size]), number, len(rows) > size)
