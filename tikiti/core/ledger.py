"""Writing balanced transfers to the ledger and reading balances back as sums."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core.errors import InvalidInput
from tikiti.core.models import LedgerEntry

# Accounts, named so that reports can group them: money at a provider, what the organizer
# earned, refunds owed to buyers, money received that matched no order, agents' floats.
SALES = "sales"
REFUNDS_PAYABLE = "refunds_payable"
SUSPENSE = "suspense"


def provider_account(provider: str) -> str:
    return f"provider:{provider}"


def agent_float_account(agent_id: int) -> str:
    return f"agent_float:{agent_id}"


# What the organizer pays sellers for their sales (agents and resellers alike), and what it
# owes one reseller in commission.
COMMISSION_EXPENSE = "commission_expense"


def agent_commission_account(agent_id: int) -> str:
    """What the organizer owes an agent in commission."""
    return f"agent_commission:{agent_id}"


def reseller_commission_account(reseller_id: int) -> str:
    return f"reseller_commission:{reseller_id}"


@dataclass(frozen=True, slots=True)
class Leg:
    account: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Refs:
    event_id: int | None = None
    order_id: int | None = None
    payment_id: int | None = None
    agent_id: int | None = None


async def record(
    session: AsyncSession,
    *,
    organizer_id: int,
    kind: str,
    currency: str,
    legs: Sequence[Leg],
    refs: Refs = Refs(),
    memo: str = "",
) -> uuid.UUID:
    """Append one transfer; the legs must balance (the database checks again at commit)."""
    if len(legs) < 2 or sum(leg.amount_minor for leg in legs) != 0:
        raise InvalidInput("a ledger transfer needs two or more legs that sum to zero")
    txn = uuid.uuid4()
    rows = [
        {
            "txn": txn,
            "organizer_id": organizer_id,
            "kind": kind,
            "account": leg.account,
            "amount_minor": leg.amount_minor,
            "currency": currency,
            "event_id": refs.event_id,
            "order_id": refs.order_id,
            "payment_id": refs.payment_id,
            "agent_id": refs.agent_id,
            "memo": memo,
        }
        for leg in legs
    ]
    await session.execute(insert(LedgerEntry), rows)
    return txn


async def balance(session: AsyncSession, organizer_id: int, account: str, currency: str) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.organizer_id == organizer_id,
            LedgerEntry.account == account,
            LedgerEntry.currency == currency,
        )
    )
    return int(total or 0)
