"""Cross-site request forgery tokens: one per session, echoed back by every form that changes.

A signed-in session keeps its token in Redis beside the user id. Before sign-in there is no
session, so the login form carries the value of a cookie of its own (the "double submit"
pattern); a site elsewhere can neither read that cookie nor make the browser send it on a
cross-site POST (SameSite=Lax).
"""

from __future__ import annotations

import hmac
import secrets

from aiohttp import web

FIELD = "csrf"
HEADER = "X-CSRF-Token"
LOGIN_COOKIE = "tikiti_login_csrf"
_TOKEN_BYTES = 32
_MAX_LENGTH = 128  # a real token is 43 characters; anything far longer is not worth comparing


def new_token() -> str:
    return secrets.token_urlsafe(_TOKEN_BYTES)


def matches(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison that never accepts an empty or missing token."""
    if not expected or not given or len(given) > _MAX_LENGTH:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


async def submitted(request: web.Request) -> str | None:
    """The token a request carries: a header (scripts) or the form field (forms)."""
    if header := request.headers.get(HEADER):
        return header
    value = (await request.post()).get(FIELD)
    return value if isinstance(value, str) else None
