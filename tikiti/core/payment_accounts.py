"""Organizers' accounts at payment providers, credentials sealed at rest."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.models import PaymentAccount
from tikiti.core.signing import KeyBox


@dataclass(frozen=True, slots=True)
class Account:
    organizer_id: int
    provider: str
    methods: tuple[str, ...]
    credentials: dict[str, str]
    live: bool


def _context(organizer_id: int, provider: str) -> bytes:
    return f"payment-account:{organizer_id}:{provider}".encode()


async def save(
    session: AsyncSession,
    keybox: KeyBox,
    *,
    organizer_id: int,
    provider: str,
    methods: Sequence[str],
    credentials: Mapping[str, str],
    live: bool,
    actor: str,
) -> None:
    """Create or replace an account; a method may be served by one provider only."""
    taken = await session.scalars(
        select(PaymentAccount.provider).where(
            PaymentAccount.organizer_id == organizer_id,
            PaymentAccount.provider != provider,
            PaymentAccount.enabled,
            PaymentAccount.methods.overlap(list(methods)),
        )
    )
    if clash := taken.first():
        raise InvalidInput(f"{clash} already takes one of these methods", field="methods")
    sealed = keybox.seal_data(
        json.dumps(dict(credentials)).encode(), _context(organizer_id, provider)
    )
    values = {"methods": list(methods), "credentials_sealed": sealed, "live": live, "enabled": True}
    await session.execute(
        insert(PaymentAccount)
        .values(organizer_id=organizer_id, provider=provider, **values)
        .on_conflict_do_update(constraint="uq_payment_accounts_provider", set_=values)
    )
    await audit.record(
        session,
        organizer_id=organizer_id,
        actor=actor,
        action="payment_account.saved",
        entity="payment_account",
        entity_id=provider,
        data={"methods": list(methods), "live": live, "keys": sorted(credentials)},
    )


def _open(keybox: KeyBox, row: PaymentAccount) -> Account:
    credentials = json.loads(
        keybox.open(row.credentials_sealed, _context(row.organizer_id, row.provider))
    )
    return Account(row.organizer_id, row.provider, tuple(row.methods), credentials, row.live)


async def for_provider(
    session: AsyncSession, keybox: KeyBox, organizer_id: int, provider: str
) -> Account:
    row = await session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.organizer_id == organizer_id,
            PaymentAccount.provider == provider,
            PaymentAccount.enabled,
        )
    )
    if row is None:
        raise NotFound(f"no {provider} account for this organizer", provider=provider)
    return _open(keybox, row)


async def for_method(
    session: AsyncSession, keybox: KeyBox, organizer_id: int, method: str
) -> Account:
    """The account that takes this method (e.g. 'ecocash' through Paynow, or the sandbox)."""
    row = await session.scalar(
        select(PaymentAccount).where(
            PaymentAccount.organizer_id == organizer_id,
            PaymentAccount.enabled,
            PaymentAccount.methods.contains([method]),
        )
    )
    if row is None:
        raise NotFound(f"{method} is not set up for this organizer", method=method)
    return _open(keybox, row)
