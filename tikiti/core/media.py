"""Unguessable, signed links naming one version of a ticket: its QR image, its stream."""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct

_TOKEN = struct.Struct(">QH")  # ticket id, ticket version
_MAC_LENGTH = 12


QR = "media"
WATCH = "watch"


def _mac(secret: str, body: bytes, purpose: str) -> bytes:
    # One key per purpose: a QR link cannot be turned into a stream link, or back.
    key = hashlib.sha256(f"tikiti-{purpose}:".encode() + secret.encode()).digest()
    return hmac.new(key, body, hashlib.sha256).digest()[:_MAC_LENGTH]


def token(secret: str, ticket_id: int, version: int, purpose: str = QR) -> str:
    """A URL-safe token naming one version of one ticket; a reissued ticket gets a new one."""
    body = _TOKEN.pack(ticket_id, version)
    return base64.urlsafe_b64encode(body + _mac(secret, body, purpose)).decode().rstrip("=")


def read(secret: str, text: str, purpose: str = QR) -> tuple[int, int] | None:
    """(ticket id, version) if the token is ours and untouched, else None."""
    if len(text) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) != _TOKEN.size + _MAC_LENGTH:
        return None
    body, mac = raw[: _TOKEN.size], raw[_TOKEN.size :]
    if not hmac.compare_digest(mac, _mac(secret, body, purpose)):
        return None
    ticket_id, version = _TOKEN.unpack(body)
    return ticket_id, version
