"""Signed-in sessions, kept in Redis so that any number of `serve` processes share them.

The cookie holds a random id; Redis holds only its SHA-256, so a copy of Redis cannot be
replayed as cookies. Each user also has a set of their session keys, which is what lets
"sign out everywhere" (and removing a user) end every session at once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

from redis.asyncio import Redis

from tikiti.admin import csrf

COOKIE = "tikiti_admin"
IDLE_SECONDS = 12 * 3600  # sliding: every request starts the 12 hours again
LONGEST_SECONDS = 7 * 24 * 3600  # however active, a session ends after a week


@dataclass(frozen=True, slots=True)
class Session:
    key: str
    user_id: int
    csrf: str
    started: float


def _digest(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode()).hexdigest()


class Sessions:
    def __init__(
        self,
        redis: Redis,
        prefix: str = "",
        *,
        idle: int = IDLE_SECONDS,
        longest: int = LONGEST_SECONDS,
    ) -> None:
        self.redis, self.prefix, self.idle, self.longest = redis, prefix, idle, longest

    def _key(self, digest: str) -> str:
        return f"{self.prefix}admin:session:{digest}"

    def _user_key(self, user_id: int) -> str:
        return f"{self.prefix}admin:user-sessions:{user_id}"

    async def start(self, user_id: int) -> tuple[str, Session]:
        """A new session (never a reused id, so a planted cookie cannot be promoted)."""
        raw_id = secrets.token_urlsafe(32)
        session = Session(self._key(_digest(raw_id)), user_id, csrf.new_token(), time.time())
        body = json.dumps({"user_id": user_id, "csrf": session.csrf, "started": session.started})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(session.key, body, ex=self.idle)
            pipe.sadd(self._user_key(user_id), session.key)
            pipe.expire(self._user_key(user_id), self.longest + self.idle)
            await pipe.execute()
        await self._forget_ended(user_id)
        return raw_id, session

    async def load(self, raw_id: str) -> Session | None:
        """The live session for a cookie, its idle time started again; None once ended."""
        if not raw_id or len(raw_id) > 100:
            return None
        key = self._key(_digest(raw_id))
        body = await self.redis.getex(key, ex=self.idle)
        if body is None:
            return None
        data = json.loads(body)
        session = Session(key, int(data["user_id"]), str(data["csrf"]), float(data["started"]))
        if time.time() - session.started > self.longest:
            await self.end(session)
            return None
        return session

    async def end(self, session: Session) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(session.key)
            pipe.srem(self._user_key(session.user_id), session.key)
            await pipe.execute()

    async def end_all(self, user_id: int) -> int:
        """End every session of a user; returns how many were still alive."""
        user_key = self._user_key(user_id)
        keys = list(await self.redis.smembers(user_key))
        if not keys:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*keys)
            pipe.delete(user_key)
            ended, _ = await pipe.execute()
        return int(ended)

    async def _forget_ended(self, user_id: int) -> None:
        """Drop keys of sessions that expired by themselves, so the set stays small."""
        user_key = self._user_key(user_id)
        keys = list(await self.redis.smembers(user_key))
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.exists(key)
            alive = await pipe.execute()
        gone = [key for key, flag in zip(keys, alive, strict=True) if not flag]
        if gone:
            await self.redis.srem(user_key, *gone)
