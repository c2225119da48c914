"""Signed ticket QR payloads that gate scanners verify offline; per-event keys sealed at rest."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PAYLOAD_PREFIX = "TK1:"
FORMAT_VERSION = 1
KEY_LENGTH = 32

_CLAIM = struct.Struct(">BQQQH")
_SIGNATURE_LENGTH = 64
_PAYLOAD_LENGTH = _CLAIM.size + _SIGNATURE_LENGTH
_MAX_ID = 2**63 - 1
_MAX_VERSION = 0xFFFF

_KEYBOX_FORMAT = b"\x01"
_KEYBOX_SALT = b"tikiti-keybox-v1"
_KEYBOX_INFO = b"event-signing-key"
_NONCE_LENGTH = 12
_TAG_LENGTH = 16


class InvalidSignature(ValueError):
    """A scanned payload must not admit anyone; the message is a short reason for gate logs."""


class KeyBoxError(ValueError):
    """A sealed key could not be opened: wrong application secret, wrong event, or damage."""


@dataclass(frozen=True, slots=True)
class TicketClaim:
    """What a QR code asserts; `version` lets a reissued ticket invalidate its older codes."""

    ticket_id: int
    event_id: int
    tier_id: int
    version: int

    def __post_init__(self) -> None:
        for name in ("ticket_id", "event_id", "tier_id"):
            _check_int(name, getattr(self, name), 1, _MAX_ID)
        _check_int("version", self.version, 0, _MAX_VERSION)


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an int in [{low}, {high}], got {value!r}")


def generate_keypair() -> tuple[bytes, bytes]:
    """Return (raw private, raw public); raw bytes keep storage and scanner config format-free."""
    private = Ed25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def _encode_claim(claim: TicketClaim) -> bytes:
    return _CLAIM.pack(
        FORMAT_VERSION, claim.ticket_id, claim.event_id, claim.tier_id, claim.version
    )


def _b32encode(data: bytes) -> str:
    # Upper-case base32 stays inside QR alphanumeric mode, which is denser than byte mode.
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _b32decode(text: str) -> bytes:
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError) as exc:
        raise InvalidSignature("bad base32") from exc
    # Reject non-canonical spellings so one ticket has exactly one payload string.
    if _b32encode(data) != text:
        raise InvalidSignature("bad base32")
    return data


def sign_claim(private_raw: bytes, claim: TicketClaim) -> str:
    message = _encode_claim(claim)
    signature = Ed25519PrivateKey.from_private_bytes(private_raw).sign(message)
    return PAYLOAD_PREFIX + _b32encode(message + signature)


def verify_payload(public_raw: bytes, payload: str) -> TicketClaim:
    """Trust nothing in the payload until the event's public key has vouched for it."""
    text = payload.strip().upper()
    if not text.startswith(PAYLOAD_PREFIX):
        raise InvalidSignature("wrong prefix")
    data = _b32decode(text[len(PAYLOAD_PREFIX) :])
    if len(data) != _PAYLOAD_LENGTH:
        raise InvalidSignature("wrong length")
    message, signature = data[: _CLAIM.size], data[_CLAIM.size :]
    if message[0] != FORMAT_VERSION:
        raise InvalidSignature("unknown format")
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except _CryptoInvalidSignature as exc:
        raise InvalidSignature("bad signature") from exc
    _, ticket_id, event_id, tier_id, version = _CLAIM.unpack(message)
    try:
        return TicketClaim(ticket_id, event_id, tier_id, version)
    except ValueError as exc:
        raise InvalidSignature("claim out of range") from exc


def public_key_hex(public_raw: bytes) -> str:
    return public_raw.hex()


def fingerprint(public_raw: bytes) -> str:
    """Short enough for an organiser to compare by eye against a scanner's configured key."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


class KeyBox:
    """Seals event private keys under the application secret so a database dump alone is useless."""

    __slots__ = ("_aead",)

    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise KeyBoxError("secret key must not be empty")
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_KEYBOX_SALT, info=_KEYBOX_INFO)
        self._aead = AESGCM(hkdf.derive(secret_key.encode("utf-8")))

    def __repr__(self) -> str:
        return "KeyBox(<secret>)"

    def seal(self, private_raw: bytes, context: bytes) -> bytes:
        """`context` (e.g. b"event:42") binds the blob to its owner, so blobs cannot be swapped."""
        if len(private_raw) != KEY_LENGTH:
            raise KeyBoxError(f"private key must be {KEY_LENGTH} bytes")
        return self.seal_data(private_raw, context)

    def seal_data(self, data: bytes, context: bytes) -> bytes:
        """Any secret of any length, e.g. a provider's credentials; opened with `open`."""
        nonce = secrets.token_bytes(_NONCE_LENGTH)
        return _KEYBOX_FORMAT + nonce + self._aead.encrypt(nonce, data, context)

    def open(self, blob: bytes, context: bytes) -> bytes:
        if len(blob) < 1 + _NONCE_LENGTH + _TAG_LENGTH or blob[:1] != _KEYBOX_FORMAT:
            raise KeyBoxError("sealed key is corrupt or of an unknown format")
        nonce, ciphertext = blob[1 : 1 + _NONCE_LENGTH], blob[1 + _NONCE_LENGTH :]
        try:
            return self._aead.decrypt(nonce, ciphertext, context)
        except InvalidTag as exc:
            raise KeyBoxError("wrong secret, wrong context, or damaged sealed key") from exc
