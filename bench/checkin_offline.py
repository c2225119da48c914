"""Offline verification rates: tikiti.core.offline beside raw cryptography and hashlib."""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tikiti.core.codes import new_code
from tikiti.core.offline import Bundle, code_hash
from tikiti.core.signing import TicketClaim, generate_keypair, sign_claim

T = TypeVar("T")


def rate(check: Callable[[T], object], items: Sequence[T], seconds: float) -> float:
    """Calls per second of `check` over `items`, in rounds, for about `seconds`."""
    done, began = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - began) < seconds:
        for item in items:
            check(item)
        done += len(items)
    return done / elapsed


def offline_rates(seconds: float) -> dict[str, float]:
    """Per-second rates for a bundle of 50,000 codes with 1,000 revoked tickets."""
    private, public = generate_keypair()
    salt, codes = os.urandom(16), [new_code() for _ in range(50_000)]
    payloads = [sign_claim(private, TicketClaim(i, 7, 1, 1)) for i in range(1, 1001)]
    bundle = Bundle(
        event_id=7, event_code="GATEBENCH", gate="A", admit_from=datetime.now(UTC),
        public_key=public, salt=salt, codes=frozenset(code_hash(salt, c) for c in codes),
        used=frozenset(), revoked=frozenset(range(10_001, 11_001)), used_ids=frozenset(),
        min_versions={}, generated_at=datetime.now(UTC),
    )  # fmt: skip
    key = Ed25519PublicKey.from_public_bytes(public)
    raw = [_message_and_signature(p) for p in payloads]
    hashes, sample = set(bundle.codes), codes[:1000]
    return {
        "qr_offline": rate(bundle.verify_qr, payloads, seconds),
        "qr_raw": rate(lambda pair: key.verify(pair[1], pair[0]), raw, seconds),
        "code_offline": rate(bundle.verify_code, sample, seconds),
        "code_raw": rate(
            lambda c: hashlib.sha256(salt + c.encode()).hexdigest() in hashes, sample, seconds
        ),
    }


def _message_and_signature(payload: str) -> tuple[bytes, bytes]:
    body = payload.removeprefix("TK1:")
    data = base64.b32decode(body + "=" * (-len(body) % 8))
    return data[:-64], data[-64:]


def offline_rows(rates: dict[str, float]) -> list[tuple[str, str]]:
    return [
        ("offline QR verify", f"{rates['qr_offline']:>9,.0f} /s   Bundle.verify_qr"),
        ("raw Ed25519 verify", f"{rates['qr_raw']:>9,.0f} /s   cryptography, key loaded once"),
        ("  offline / raw", f"{rates['qr_offline'] / rates['qr_raw']:.1%}"),
        ("offline code verify", f"{rates['code_offline']:>9,.0f} /s   Bundle.verify_code"),
        ("raw sha256 + set", f"{rates['code_raw']:>9,.0f} /s   hashlib"),
        ("  offline / raw", f"{rates['code_offline'] / rates['code_raw']:.1%}"),
    ]
