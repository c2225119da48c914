"""The audit log: who changed what, for the organizer's owners to read."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

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
