"""Paynow Zimbabwe express checkout (EcoCash, OneMoney) spoken over aiohttp, wire-compatible."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable, Mapping
from typing import ClassVar
from urllib.parse import parse_qsl

import aiohttp

from tikiti.core.money import Money, MoneyError
from tikiti.payments.base import (
    Attempt,
    Callback,
    CallbackRejected,
    PaymentDeclined,
    PaymentError,
    Provider,
    ProviderUnavailable,
    Report,
    StartRequest,
    Status,
)
from tikiti.payments.http import DEFAULT_TIMEOUT, call

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://www.paynow.co.zw"
INITIATE_PATH = "/interface/remotetransaction"

_PAID = frozenset({"paid", "awaiting delivery", "delivered"})
_FAILED = frozenset({"cancelled", "failed", "disputed", "refunded"})
_METHOD_NAMES = {"ecocash": "EcoCash", "onemoney": "OneMoney"}
_LOCAL_PHONE = re.compile(r"07[0-9]{8}")
_MAX_FIELDS = 32  # a result post has six; anything far larger is not Paynow
_MAX_REFERENCE = 64
_MAX_INFO = 100
_MAX_INSTRUCTIONS = 120

Pairs = list[tuple[str, str]]


def paynow_hash(pairs: Iterable[tuple[str, str]], key: str) -> str:
    """Paynow's proof: SHA-512 over every value but the hash, in message order, then the key.

    Message order, not sorted order, because Paynow hashes the fields as they sit on the wire;
    values are the decoded ones. Upper-case hex is what Paynow sends and expects.
    """
    text = "".join(value for name, value in pairs if name.lower() != "hash") + key
    return hashlib.sha512(text.encode("utf-8")).hexdigest().upper()


def parse_message(text: str) -> Pairs:
    """A Paynow `k=v&…` message in wire order (the hash depends on it); ValueError if garbled.

    A field named twice is refused: the hash would cover both copies but we could only
    believe one of them.
    """
    pairs = parse_qsl(
        text.strip(), keep_blank_values=True, errors="strict", max_num_fields=_MAX_FIELDS
    )
    names = [name.lower() for name, _ in pairs]
    if len(set(names)) != len(names):
        raise ValueError("a field appears more than once")
    return pairs


def fields_of(pairs: Pairs) -> dict[str, str]:
    """Fields by lower-cased name, because Paynow capitalises keys in some replies."""
    return {name.lower(): value for name, value in pairs}


def hash_matches(pairs: Pairs, key: str) -> bool:
    """Constant-time check of a message's own hash; a missing hash never matches."""
    given = fields_of(pairs).get("hash", "").strip().upper()
    expected = paynow_hash(pairs, key)
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def map_status(text: str) -> Status:
    """Only the documented paid states count as paid; unknown ones stay pending and get polled."""
    state = text.strip().lower()
    if state in _PAID:
        return Status.PAID
    if state in _FAILED:
        return Status.FAILED
    return Status.PENDING


def local_phone(phone: str) -> str:
    """Paynow wants 07XXXXXXXX (the SDK and the test-mode numbers use it), not +263…."""
    digits = re.sub(r"[\s()-]", "", phone)
    if digits.startswith("+263"):
        digits = "0" + digits[4:]
    elif digits.startswith("263"):
        digits = "0" + digits[3:]
    if not _LOCAL_PHONE.fullmatch(digits):
        raise PaymentDeclined("Paynow can only prompt Zimbabwean mobile numbers")
    return digits


def _callback_pairs(callback: Callback) -> Pairs:
    """The result post's fields; anything unreadable is a rejected callback, never a crash."""
    try:
        return parse_message(callback.body.decode("utf-8"))
    except ValueError as error:  # UnicodeDecodeError is a ValueError
        raise CallbackRejected(f"unreadable Paynow result post: {error}") from None


def _answer_pairs(text: str) -> Pairs:
    """An API answer's fields; an unreadable answer leaves the outcome unknown."""
    try:
        return parse_message(text)
    except ValueError as error:
        raise ProviderUnavailable(f"unreadable Paynow answer: {error}") from None


class Paynow(Provider):
    """Paynow express checkout: a USSD prompt to the payer, a hashed result post, a poll URL.

    Result posts are hash-checked by `verify` and then confirmed with `query`
    (`confirm_callbacks`), because the poll answer is what Paynow itself stands behind.
    """

    identifier: ClassVar[str] = "paynow"
    methods: ClassVar[tuple[str, ...]] = ("ecocash", "onemoney")
    refund_supported: ClassVar[bool] = False
    confirm_callbacks: ClassVar[bool] = True
    required_credentials: ClassVar[tuple[str, ...]] = (
        "integration_id",
        "integration_key",
        "auth_email",
    )

    def __init__(
        self,
        credentials: Mapping[str, str],
        http: aiohttp.ClientSession,
        *,
        limits: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(credentials, http)
        self.limits = limits
        self.base_url = (self.credentials.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        # Paynow amounts carry no currency: each integration is set up for exactly one.
        self.currency = self.credentials.get("currency") or "USD"
        try:
            Money.zero(self.currency)
        except MoneyError as error:
            raise PaymentError(f"paynow currency: {error}") from None
        # The official SDK lower-cases the key before hashing; Paynow issues lower-case GUIDs.
        self._key = self.credentials["integration_key"].strip().lower()

    @staticmethod
    def reference_of(callback: Callback) -> str:
        reference = fields_of(_callback_pairs(callback)).get("reference", "")
        if not reference or len(reference) > _MAX_REFERENCE or not reference.isprintable():
            raise CallbackRejected("Paynow result post without a usable reference")
        return reference

    async def start(self, request: StartRequest) -> Attempt:
        form = self._initiation_form(request)
        url = self.base_url + INITIATE_PATH
        answer = await call(
            self.http, "POST", url, provider=self.identifier, data=form, limits=self.limits
        )
        pairs = _answer_pairs(answer.text)
        fields = fields_of(pairs)
        status = fields.get("status", "").strip().lower()
        if status == "error":
            reason = fields.get("error") or "Paynow refused the payment"
            logger.warning("paynow refused %s: %s", request.merchant_reference, reason)
            raise PaymentDeclined(reason)
        if status != "ok" or not hash_matches(pairs, self._key):
            # An Ok we cannot authenticate may be real or not: the outcome is unknown.
            raise ProviderUnavailable("Paynow's answer was not a correctly signed Ok")
        if not fields.get("pollurl"):
            raise ProviderUnavailable("Paynow's answer carried no poll URL")
        stored = {
            "pollurl": fields["pollurl"],
            "paynowreference": fields.get("paynowreference", ""),
        }
        instructions = self._instructions(request, form["phone"])
        return Attempt(request.merchant_reference, instructions, stored)

    def _initiation_form(self, request: StartRequest) -> dict[str, str]:
        """The express-checkout form in the documented field order, hashed in that order."""
        if request.method not in self.methods:
            raise PaymentDeclined(f"Paynow does not offer {request.method!r} here")
        if request.amount.currency != self.currency or request.amount.minor <= 0:
            raise PaymentDeclined(f"this Paynow account takes positive {self.currency} amounts")
        form = {
            "id": self.credentials["integration_id"],
            "reference": request.merchant_reference,
            "amount": request.amount.decimal_string(),
            "additionalinfo": request.description[:_MAX_INFO],
            "returnurl": request.callback_url,  # no browser comes back from a USSD prompt
            "resulturl": request.callback_url,
            "authemail": self.credentials["auth_email"],
            "phone": local_phone(request.payer_phone),
            "method": request.method,
            "status": "Message",
        }
        form["hash"] = paynow_hash(form.items(), self._key)
        return form

    @staticmethod
    def _instructions(request: StartRequest, phone: str) -> str:
        """Our own short ASCII text: Paynow's USSD instructions are long and not always GSM-7."""
        name = _METHOD_NAMES.get(request.method, request.method)
        text = f"Approve the {name} prompt on {phone} to pay {request.amount.format()}"
        return text[:_MAX_INSTRUCTIONS]

    def verify(self, callback: Callback, stored: Mapping[str, str]) -> Report:
        pairs = _callback_pairs(callback)
        if not hash_matches(pairs, self._key):
            logger.warning("paynow result post with a missing or wrong hash rejected")
            raise CallbackRejected("Paynow result post hash does not match")
        fields = fields_of(pairs)
        expected = stored.get("paynowreference")
        if expected and fields.get("paynowreference") != expected:
            raise CallbackRejected("Paynow result post names another Paynow transaction")
        try:
            return self._report(fields)
        except ValueError as error:  # MoneyError is a ValueError
            raise CallbackRejected(f"unreadable Paynow result post: {error}") from None

    def _report(self, fields: Mapping[str, str]) -> Report:
        """A result post or poll answer as a Report; ValueError when a needed field is bad."""
        reference = fields.get("reference", "")
        status_text = fields.get("status", "").strip()
        if not reference or not status_text:
            raise ValueError("reference or status missing")
        amount_text = fields.get("amount", "")
        amount = Money.parse(amount_text, self.currency) if amount_text else None
        status = map_status(status_text)
        reason = "" if status is Status.PAID else f"Paynow status {status_text}"
        raw: dict[str, object] = {k: v for k, v in fields.items() if k != "hash"}
        return Report(reference, status, amount, reason, raw)

    async def query(self, provider_reference: str, stored: Mapping[str, str]) -> Report:
        pollurl = stored.get("pollurl")
        if not pollurl:
            raise PaymentError("no Paynow poll URL stored for this payment")
        answer = await call(
            self.http, "POST", pollurl, provider=self.identifier, limits=self.limits
        )
        pairs = _answer_pairs(answer.text)
        fields = fields_of(pairs)
        if fields.get("status", "").strip().lower() == "error":
            raise ProviderUnavailable(f"Paynow poll failed: {fields.get('error', '')}")
        try:
            report = self._report({"reference": provider_reference, **fields})
        except ValueError as error:
            raise ProviderUnavailable(f"unreadable Paynow poll answer: {error}") from None
        self._check_poll(pairs, report, provider_reference)
        return report

    def _check_poll(self, pairs: Pairs, report: Report, provider_reference: str) -> None:
        """A poll answer must be about this payment and, to count as paid, correctly signed."""
        if report.provider_reference != provider_reference:
            raise ProviderUnavailable("Paynow poll answered about another payment")
        if "hash" in fields_of(pairs):
            if not hash_matches(pairs, self._key):
                raise ProviderUnavailable("Paynow poll answer hash does not match")
        elif report.status is Status.PAID:
            raise ProviderUnavailable("unsigned Paynow poll answer cannot confirm a payment")
