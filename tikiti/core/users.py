"""Admin users and their passwords (argon2)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tikiti.core import audit
from tikiti.core.errors import InvalidInput
from tikiti.core.models import Role, User

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
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
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
