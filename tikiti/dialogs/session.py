"""A conversation's state between two messages: small, JSON, kept in the store with a TTL."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# json.dumps with separators builds a new encoder on every call; this one is made once, and
# skips the cycle check (a session is plain JSON values: it came from JSON or from literals).
_ENCODER = json.JSONEncoder(separators=(",", ":"), check_circular=False)


@dataclass
class Session:
    state: str = "home"
    stack: list[str] = field(default_factory=list)
    page: int = 0
    language: str = "en"
    data: dict[str, Any] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)  # key typed → value, current page
    more: bool = False  # the current screen has a next page
    error: str = ""  # one line shown above the screen, once
    last_key: str | None = None
    last_reply: dict[str, Any] | None = None
    checkouts: int = 0

    def dumps(self) -> bytes:
        # vars() rather than asdict(): asdict deep-copies every nested value on each hop.
        return _ENCODER.encode(vars(self)).encode()

    @classmethod
    def loads(cls, raw: bytes) -> Session:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in json.loads(raw).items() if k in known})
