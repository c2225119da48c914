"""Unit tests for tikiti.core.signing."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tikiti.core.signing import (
    PAYLOAD_PREFIX,
    InvalidSignature,
    KeyBox,
    KeyBoxError,
    TicketClaim,
    fingerprint,
    generate_keypair,
    public_key_hex,
    sign_claim,
    verify_payload,
)

QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
MESSAGE_LENGTH = 27
SIGNATURE_LENGTH = 64
MAX_ID = 2**63 - 1

CLAIM = TicketClaim(ticket_id=123456, event_id=42, tier_id=7, version=3)


@pytest.fixture(scope="module")
def keys() -> tuple[bytes, bytes]:
    return generate_keypair()


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def raw_payload(payload: str) -> bytes:
    body = payload.removeprefix(PAYLOAD_PREFIX)
    return base64.b32decode(body + "=" * (-len(body) % 8))


# --- keys and claims ----------------------------------------------------------


def test_generate_keypair_is_raw_ed25519() -> None:
    private, public = generate_keypair()
    assert len(private) == 32
    assert len(public) == 32
    derived = Ed25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()
    assert derived == public
    assert generate_keypair()[0] != private


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ticket_id": 0},
        {"ticket_id": -1},
        {"event_id": 2**63},
        {"tier_id": 0},
        {"version": -1},
        {"version": 65536},
        {"ticket_id": True},
        {"version": 1.0},
        {"event_id": "42"},
    ],
)
def test_claim_rejects_out_of_range(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {"ticket_id": 1, "event_id": 1, "tier_id": 1, "version": 0}
    fields.update(kwargs)
    with pytest.raises(ValueError):
        TicketClaim(**fields)  # type: ignore[arg-type]


def test_claim_limits_accepted() -> None:
    TicketClaim(ticket_id=MAX_ID, event_id=1, tier_id=MAX_ID, version=65535)


# --- payload format -----------------------------------------------------------


def test_payload_layout(keys: tuple[bytes, bytes]) -> None:
    private, _ = keys
    payload = sign_claim(private, CLAIM)
    assert payload.startswith("TK1:")
    assert set(payload) <= QR_ALPHANUMERIC
    assert "=" not in payload
    data = raw_payload(payload)
    assert len(data) == MESSAGE_LENGTH + SIGNATURE_LENGTH
    message, signature = data[:MESSAGE_LENGTH], data[MESSAGE_LENGTH:]
    assert message == struct.pack(">BQQQH", 1, 123456, 42, 7, 3)
    Ed25519PrivateKey.from_private_bytes(private).public_key().verify(signature, message)


def test_round_trip(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    assert verify_payload(public, sign_claim(private, CLAIM)) == CLAIM


@settings(max_examples=50)
@given(
    st.integers(1, MAX_ID),
    st.integers(1, MAX_ID),
    st.integers(1, MAX_ID),
    st.integers(0, 65535),
)
def test_round_trip_property(ticket: int, event: int, tier: int, version: int) -> None:
    private, public = generate_keypair()
    claim = TicketClaim(ticket, event, tier, version)
    payload = sign_claim(private, claim)
    assert len(payload) == len(PAYLOAD_PREFIX) + 146
    assert verify_payload(public, payload) == claim


def test_accepts_lower_case_and_whitespace(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    payload = sign_claim(private, CLAIM)
    assert verify_payload(public, f"  {payload.lower()}\n") == CLAIM


def test_signing_is_deterministic(keys: tuple[bytes, bytes]) -> None:
    private, _ = keys
    assert sign_claim(private, CLAIM) == sign_claim(private, CLAIM)


# --- rejection ----------------------------------------------------------------


def test_every_single_byte_tamper_of_message_rejected(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    data = raw_payload(sign_claim(private, CLAIM))
    for index in range(MESSAGE_LENGTH):
        for flip in (0x01, 0x80, 0xFF):
            tampered = bytearray(data)
            tampered[index] ^= flip
            with pytest.raises(InvalidSignature):
                verify_payload(public, PAYLOAD_PREFIX + b32(bytes(tampered)))


def test_every_single_byte_tamper_of_signature_rejected(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    data = raw_payload(sign_claim(private, CLAIM))
    for index in range(MESSAGE_LENGTH, len(data)):
        tampered = bytearray(data)
        tampered[index] ^= 0x01
        with pytest.raises(InvalidSignature, match="bad signature"):
            verify_payload(public, PAYLOAD_PREFIX + b32(bytes(tampered)))


def test_raised_claim_fields_rejected(keys: tuple[bytes, bytes]) -> None:
    """A forger who edits the version or tier and keeps the old signature gets nothing."""
    private, public = keys
    data = raw_payload(sign_claim(private, CLAIM))
    forged = struct.pack(">BQQQH", 1, 123456, 42, 8, 4) + data[MESSAGE_LENGTH:]
    with pytest.raises(InvalidSignature, match="bad signature"):
        verify_payload(public, PAYLOAD_PREFIX + b32(forged))


def test_other_events_key_rejected(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    other_private, other_public = generate_keypair()
    with pytest.raises(InvalidSignature, match="bad signature"):
        verify_payload(public, sign_claim(other_private, CLAIM))
    with pytest.raises(InvalidSignature, match="bad signature"):
        verify_payload(other_public, sign_claim(private, CLAIM))


def test_unknown_format_byte_rejected(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    message = struct.pack(">BQQQH", 2, 123456, 42, 7, 3)
    signature = Ed25519PrivateKey.from_private_bytes(private).sign(message)
    with pytest.raises(InvalidSignature, match="unknown format"):
        verify_payload(public, PAYLOAD_PREFIX + b32(message + signature))


def test_signed_but_out_of_range_claim_rejected(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    message = struct.pack(">BQQQH", 1, 0, 42, 7, 3)
    signature = Ed25519PrivateKey.from_private_bytes(private).sign(message)
    with pytest.raises(InvalidSignature, match="out of range"):
        verify_payload(public, PAYLOAD_PREFIX + b32(message + signature))


@pytest.mark.parametrize("prefix", ["", "TK2:", "TK1", "XX1:", "TK:"])
def test_wrong_prefix_rejected(keys: tuple[bytes, bytes], prefix: str) -> None:
    private, public = keys
    body = sign_claim(private, CLAIM).removeprefix(PAYLOAD_PREFIX)
    with pytest.raises(InvalidSignature, match="wrong prefix"):
        verify_payload(public, prefix + body)


@pytest.mark.parametrize("body", ["!!!!", "ABC1", "A", "ABCDEFGH=", "ÄÖÜ", "AB CD"])
def test_bad_base32_rejected(keys: tuple[bytes, bytes], body: str) -> None:
    with pytest.raises(InvalidSignature, match="bad base32"):
        verify_payload(keys[1], PAYLOAD_PREFIX + body)


def test_non_canonical_base32_rejected(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    payload = sign_claim(private, CLAIM)
    # 91 bytes leave 2 unused bits in the last character; setting them must not still verify.
    last = payload[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    twin = alphabet[alphabet.index(last) | 0b01]
    assert twin != last
    with pytest.raises(InvalidSignature, match="bad base32"):
        verify_payload(public, payload[:-1] + twin)


@pytest.mark.parametrize("size", [0, 5, 27, 90, 92, 200])
def test_wrong_length_rejected(keys: tuple[bytes, bytes], size: int) -> None:
    with pytest.raises(InvalidSignature, match="wrong length"):
        verify_payload(keys[1], PAYLOAD_PREFIX + b32(bytes([1]) * size))


def test_truncated_payload_rejected(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    payload = sign_claim(private, CLAIM)
    for cut in range(len(PAYLOAD_PREFIX), len(payload)):
        with pytest.raises(InvalidSignature):
            verify_payload(public, payload[:cut])


def test_invalid_signature_is_value_error() -> None:
    assert issubclass(InvalidSignature, ValueError)
    assert not issubclass(InvalidSignature, KeyBoxError)


# --- display helpers ----------------------------------------------------------


def test_public_key_display(keys: tuple[bytes, bytes]) -> None:
    _, public = keys
    assert public_key_hex(public) == public.hex()
    assert len(public_key_hex(public)) == 64
    fp = fingerprint(public)
    assert fp == hashlib.sha256(public).hexdigest()[:16]
    assert len(fp) == 16
    assert fingerprint(generate_keypair()[1]) != fp


# --- KeyBox -------------------------------------------------------------------


def test_keybox_round_trip(keys: tuple[bytes, bytes]) -> None:
    private, public = keys
    box = KeyBox("app-secret")
    blob = box.seal(private, b"event:42")
    assert blob[:1] == b"\x01"
    assert len(blob) == 1 + 12 + 32 + 16
    assert private not in blob
    opened = KeyBox("app-secret").open(blob, b"event:42")
    assert opened == private
    assert verify_payload(public, sign_claim(opened, CLAIM)) == CLAIM


def test_keybox_uses_fresh_nonces(keys: tuple[bytes, bytes]) -> None:
    box = KeyBox("app-secret")
    blobs = {box.seal(keys[0], b"event:42") for _ in range(20)}
    assert len(blobs) == 20
    assert len({blob[1:13] for blob in blobs}) == 20


def test_keybox_wrong_secret_rejected(keys: tuple[bytes, bytes]) -> None:
    blob = KeyBox("app-secret").seal(keys[0], b"event:42")
    with pytest.raises(KeyBoxError):
        KeyBox("app-secret2").open(blob, b"event:42")


def test_keybox_wrong_context_rejected(keys: tuple[bytes, bytes]) -> None:
    box = KeyBox("app-secret")
    blob = box.seal(keys[0], b"event:42")
    for context in (b"event:43", b"event:4", b"", b"EVENT:42"):
        with pytest.raises(KeyBoxError):
            box.open(blob, context)


def test_keybox_corruption_rejected(keys: tuple[bytes, bytes]) -> None:
    box = KeyBox("app-secret")
    blob = box.seal(keys[0], b"event:42")
    for index in range(len(blob)):
        damaged = bytearray(blob)
        damaged[index] ^= 0x01
        with pytest.raises(KeyBoxError):
            box.open(bytes(damaged), b"event:42")
    for cut in range(len(blob)):
        with pytest.raises(KeyBoxError):
            box.open(blob[:cut], b"event:42")


def test_keybox_rejects_bad_inputs() -> None:
    with pytest.raises(KeyBoxError):
        KeyBox("")
    with pytest.raises(KeyBoxError):
        KeyBox("s").seal(b"short", b"event:1")


def test_keybox_repr_hides_secret() -> None:
    assert "hunter2" not in repr(KeyBox("hunter2"))
    assert issubclass(KeyBoxError, ValueError)
