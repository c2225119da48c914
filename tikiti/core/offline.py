"""What a gate device checks offline: salted code hashes and QR signatures, from a bundle."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tikiti.core.codes import InvalidCode, parse
from tikiti.core.signing import InvalidSignature, TicketClaim, verify_payload

BUNDLE_FORMAT = 1


class BundleError(ValueError):
    """A bundle that cannot be read: a device must refuse to scan with it, not guess."""


def _load(data: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    try:
        raw = json.loads(data) if isinstance(data, str | bytes) else data
    except ValueError as error:
        raise BundleError(f"not JSON: {error}") from error
    if not isinstance(raw, Mapping) or raw.get("format") != BUNDLE_FORMAT:
        raise BundleError("not a gate bundle of format 1")
    return raw


def code_hash(salt: bytes, code: str) -> str:
    """Salted per event, so no table precomputed for one event's bundle serves another's."""
    return hashlib.sha256(salt + code.encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class Bundle:
    """A snapshot of one event's valid tickets for one gate, as of `generated_at`."""

    event_id: int
    event_code: str
    gate: str
    admit_from: datetime
    public_key: bytes
    salt: bytes
    codes: frozenset[str]
    used: frozenset[str]
    revoked: frozenset[int]
    used_ids: frozenset[int]
    min_versions: Mapping[int, int]
    generated_at: datetime

    @classmethod
    def from_json(cls, data: str | bytes | Mapping[str, Any]) -> Bundle:
        raw = _load(data)
        try:
            return cls(
                event_id=int(raw["event"]["id"]),
                event_code=str(raw["event"]["code"]),
                gate=str(raw["gate"]),
                admit_from=datetime.fromisoformat(raw["admit_from"]),
                public_key=bytes.fromhex(raw["public_key"]),
                salt=bytes.fromhex(raw["salt"]),
                codes=frozenset(map(str, raw["codes"])),
                used=frozenset(map(str, raw["used"])),
                revoked=frozenset(map(int, raw["revoked"])),
                used_ids=frozenset(map(int, raw["used_ids"])),
                min_versions={int(k): int(v) for k, v in raw["min_versions"].items()},
                generated_at=datetime.fromisoformat(raw["generated_at"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise BundleError(f"not a gate bundle: {error!r}") from error

    def _hash(self, code: str) -> str | None:
        try:
            return code_hash(self.salt, parse(code))
        except InvalidCode:
            return None

    def verify_code(self, code: str) -> bool:
        """A typed or scanned short code of a valid ticket of this event (used or not)."""
        hashed = self._hash(code)
        return hashed is not None and hashed in self.codes

    def verify_qr(self, payload: str) -> TicketClaim | None:
        """The claim of an authentic, unrevoked, current QR code of this event; None otherwise."""
        try:
            claim = verify_payload(self.public_key, payload)
        except InvalidSignature:
            return None
        if claim.event_id != self.event_id or claim.ticket_id in self.revoked:
            return None
        if claim.version < self.min_versions.get(claim.ticket_id, 0):
            return None
        return claim

    def is_used_code(self, code: str) -> bool:
        """Admitted before the bundle was made: a second entry, not a first one."""
        hashed = self._hash(code)
        return hashed is not None and hashed in self.used

    def is_used_ticket(self, ticket_id: int) -> bool:
        return ticket_id in self.used_ids
