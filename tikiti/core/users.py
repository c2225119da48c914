"""Admin users and their passwords (argon2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tikiti.core import audit
from tikiti.core.errors import InvalidInput, NotFound
from tikiti.core.models import Organizer, Role, User

Reader = AsyncSession | AsyncConnection

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def add_user(
    session: AsyncSession,
    *,
    organizer_id: int,
    email: str,
    name: str,
    role: Role,
    password: str,
    actor: str,
) -> User:
    email, name = email.strip().lower(), name.strip()
    if not name or len(name) > 200 or not name.isprintable():
        raise InvalidInput("a name is needed (200 characters at most)", field="name")
    if "@" not in email or len(email) > 320 or not email.isprintable() or " " in email:
        raise InvalidInput(f"not an email address: {email!r}", field="email")
    if await session.scalar(select(User.id).where(User.email == email)):
        raise InvalidInput(f"a user with email {email} already exists", field="email")
    user = User(
        organizer_id=organizer_id,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(user)
    await session.flush()
    await audit.record(
        session,
        organizer_id=organizer_id,
        actor=actor,
        action="user.added",
        entity="user",
        entity_id=user.id,
        data={"email": email, "role": role.value},
    )
    return user


@dataclass(frozen=True, slots=True)
class Member:
    """A signed-in person as the admin needs them: who, for which organizer, in which role."""

    id: int
    organizer_id: int
    organizer_name: str
    timezone: str
    email: str
    name: str
    role: Role
    created_at: datetime
    last_login_at: datetime | None


_MEMBER = select(
    User.id,
    User.organizer_id,
    Organizer.name,
    Organizer.timezone,
    User.email,
    User.name,
    User.role,
    User.created_at,
    User.last_login_at,
).join(Organizer, Organizer.id == User.organizer_id)


async def member(session: Reader, user_id: int) -> Member | None:
    row = (await session.execute(_MEMBER.where(User.id == user_id))).one_or_none()
    return None if row is None else Member(*row)


async def by_email(session: Reader, email: str) -> tuple[int, str] | None:
    """(user id, password hash) for a sign-in attempt; None when nobody has that email."""
    row = (
        await session.execute(
            select(User.id, User.password_hash).where(User.email == email.strip().lower())
        )
    ).one_or_none()
    return None if row is None else (row[0], row[1])


async def members(session: Reader, organizer_id: int) -> list[Member]:
    query = _MEMBER.where(User.organizer_id == organizer_id).order_by(User.role, User.email)
    return [Member(*row) for row in (await session.execute(query)).all()]


async def signed_in(session: AsyncSession, user_id: int, *, at: datetime, ip: str) -> Member:
    """Note the sign-in on the user and in the audit log."""
    found = await member(session, user_id)
    if found is None:
        raise NotFound("no such user", user_id=user_id)
    await session.execute(update(User).where(User.id == user_id).values(last_login_at=at))
    await audit.record(
        session,
        organizer_id=found.organizer_id,
        actor=found.email,
        action="user.login",
        entity="user",
        entity_id=user_id,
        data={"ip": ip},
    )
    return found


async def remove_user(
    session: AsyncSession, *, organizer_id: int, user_id: int, actor: Member
) -> Member:
    """Delete a user of this organizer; another organizer's user is simply not found."""
    found = await member(session, user_id)
    if found is None or found.organizer_id != organizer_id:
        raise NotFound("no such user", user_id=user_id)
    if found.id == actor.id:
        raise InvalidInput("you cannot remove yourself", field="user")
    await session.execute(delete(User).where(User.id == user_id, User.organizer_id == organizer_id))
    await audit.record(
        session,
        organizer_id=organizer_id,
        actor=actor.email,
        action="user.removed",
        entity="user",
        entity_id=user_id,
        data={"email": found.email, "role": found.role.value},
    )
    return found
