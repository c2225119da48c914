"""Best-available seat assignment for reserved sections: adjacent seats in the best row first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import BigInteger

from tikiti.core.errors import SoldOut

MAX_ATTEMPTS = 8

_FREE = text(
    """
    SELECT s.id, s.row_label, s.row_rank, s.number FROM seats s
     WHERE s.section_id = :section_id AND NOT (s.id = ANY(:exclude)) AND NOT EXISTS (
           SELECT 1 FROM seat_claims c
            WHERE c.event_id = :event_id AND c.seat_id = s.id AND c.released_at IS NULL)
     ORDER BY s.row_rank, s.number
    """
).bindparams(bindparam("exclude", type_=ARRAY(BigInteger)))

# Lock only the seats we intend to take; a seat another buyer is taking right now is skipped.
_LOCK = text(
    "SELECT id FROM seats WHERE id = ANY(:ids) ORDER BY id FOR UPDATE SKIP LOCKED"
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))

# The partial unique index on live claims is the last word: a conflicting seat is not claimed.
_CLAIM = text(
    """
    INSERT INTO seat_claims (event_id, seat_id, hold_id)
    SELECT :event_id, seat_id, :hold_id FROM unnest(:ids) AS seat_id
    ON CONFLICT (event_id, seat_id) WHERE released_at IS NULL DO NOTHING
    RETURNING seat_id
    """
).bindparams(bindparam("ids", type_=ARRAY(BigInteger)))


@dataclass(frozen=True, slots=True)
class FreeSeat:
    id: int
    row_label: str
    row_rank: int
    number: int


def choose(free: Sequence[FreeSeat], count: int) -> list[FreeSeat]:
    """Pick `count` seats: a contiguous run in the best row that has one, else the best seats."""
    for _, row_seats in groupby(free, key=lambda s: (s.row_rank, s.row_label)):
        row = list(row_seats)
        for start in range(len(row) - count + 1):
            run = row[start : start + count]
            if run[-1].number - run[0].number == count - 1:
                return run
    return list(free[:count])


async def assign(
    session: AsyncSession,
    *,
    event_id: int,
    tier_id: int,
    section_id: int,
    hold_id: int,
    count: int,
) -> list[FreeSeat]:
    """Claim `count` seats for a hold, retrying around seats that other buyers take meanwhile."""
    claimed: list[FreeSeat] = []
    skipped: list[int] = []
    for _ in range(MAX_ATTEMPTS):
        needed = count - len(claimed)
        if needed == 0:
            return claimed
        rows = await session.execute(
            _FREE,
            {"section_id": section_id, "event_id": event_id, "exclude": skipped},
        )
        free = [FreeSeat(*row) for row in rows]
        if len(free) < needed:
            break
        wanted = choose(free, needed)
        locked = set((await session.scalars(_LOCK, {"ids": [s.id for s in wanted]})).all())
        got = set(
            (
                await session.scalars(
                    _CLAIM,
                    {"event_id": event_id, "hold_id": hold_id, "ids": sorted(locked)},
                )
            ).all()
        )
        claimed.extend(s for s in wanted if s.id in got)
        skipped.extend(s.id for s in wanted if s.id not in got)
    if len(claimed) == count:
        return claimed
    raise SoldOut("not enough seats left", tier_id=tier_id, available=len(claimed))
