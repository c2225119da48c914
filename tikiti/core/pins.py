"""Short numeric PINs for people who work from a feature phone (gate staff, agents).

A PIN has few digits, so its hash alone would not resist an offline search; what protects it
is that the only place it can be tried is our menu, which locks after a few wrong tries.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tikiti.core.errors import InvalidInput

PIN_DIGITS = 5
MIN_DIGITS, MAX_DIGITS = 4, 8
LOCK_AFTER = 3
LOCK_FOR = timedelta(minutes=15)
# Cheaper than a password's parameters: a PIN is typed on every shift, and the lockout,
# not the hash, is what stops guessing.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one typed PIN did: `ok`, or how many tries are left, or until when it is locked."""

    ok: bool
    tries_left: int = 0
    locked_until: datetime | None = None


def new_pin() -> str:
    return f"{secrets.randbelow(10**PIN_DIGITS):0{PIN_DIGITS}d}"


def looks_like_pin(text: str) -> bool:
    return text.isascii() and text.isdigit() and MIN_DIGITS <= len(text) <= MAX_DIGITS


def strong_enough(pin: str) -> bool:
    """A PIN people choose themselves: not one digit repeated, not a run like 1234 or 9876."""
    if not looks_like_pin(pin) or len(set(pin)) == 1:
        return False
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    return not (len(steps) == 1 and steps <= {1, -1})


def hash_pin(pin: str) -> str:
    if not looks_like_pin(pin):
        raise InvalidInput(f"a PIN is {MIN_DIGITS} to {MAX_DIGITS} digits", field="pin")
    return _hasher.hash(pin)


async def matches(pin_hash: str, pin: str) -> bool:
    """argon2 takes tens of milliseconds of CPU: off the event loop, so a menu stays quick."""
    if not looks_like_pin(pin):
        return False

    def verify() -> bool:
        try:
            return _hasher.verify(pin_hash, pin)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)


def after_failure(failed_before: int, now: datetime) -> tuple[int, datetime | None]:
    """The failure count and lock to store after one more wrong PIN."""
    failed = failed_before + 1
    if failed >= LOCK_AFTER:
        return 0, now + LOCK_FOR
    return failed, None


class Holder(Protocol):
    """A row with a PIN and its lockout (gate staff, agents), locked by the caller."""

    @property
    def pin_hash(self) -> str | None: ...

    failed_pin_attempts: int
    locked_until: datetime | None


async def attempt(holder: Holder, pin: str, now: datetime) -> tuple[Attempt, bool]:
    """One typed PIN against a row the caller has locked; the second value says whether this
    try locked it (the caller tells the organizer)."""
    if holder.pin_hash is None:
        return Attempt(False), False
    if holder.locked_until is not None and holder.locked_until > now:
        return Attempt(False, locked_until=holder.locked_until), False
    if await matches(holder.pin_hash, pin):
        holder.failed_pin_attempts, holder.locked_until = 0, None
        return Attempt(True), False
    holder.failed_pin_attempts, holder.locked_until = after_failure(holder.failed_pin_attempts, now)
    if holder.locked_until is not None:
        return Attempt(False, locked_until=holder.locked_until), True
    return Attempt(False, tries_left=LOCK_AFTER - holder.failed_pin_attempts), False
