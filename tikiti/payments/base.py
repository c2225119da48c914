"""The one interface every mobile-money provider implements, and the one error tree."""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import aiohttp

from tikiti.core.money import Money


class PaymentError(Exception):
    """Every provider failure; `code` keys the buyer-facing text."""

    code = "payment_error"


class CallbackRejected(PaymentError):
    """A callback that failed verification: answered 4xx and never believed."""

    code = "callback_rejected"


class ProviderUnavailable(PaymentError):
    """Timeouts, 5xx, unreadable answers: the outcome is unknown, so try again later."""

    code = "provider_unavailable"


class PaymentDeclined(PaymentError):
    """The provider refused to start the payment (bad number, insufficient balance …)."""

    code = "payment_declined"


class RefundUnsupported(PaymentError):
    """This provider has no refund API: the refund is recorded as owed for manual payout."""

    code = "refund_unsupported"


class Status(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StartRequest:
    """What a provider needs to push a PIN prompt to the payer's phone."""

    payment_id: int
    merchant_reference: str  # ours, unique per payment, at most 12 characters
    amount: Money
    payer_phone: str  # +E.164
    method: str
    description: str
    callback_url: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """A started payment: its reference at the provider and what to tell the buyer."""

    provider_reference: str
    instructions: str
    stored: dict[str, str] = field(default_factory=dict)  # kept on the payment for later calls


@dataclass(frozen=True, slots=True)
class Callback:
    """A provider's HTTP request to us, as received: nothing in it is trusted yet."""

    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str]
    url: str


@dataclass(frozen=True, slots=True)
class Report:
    """What a provider says about one payment, from a verified callback or a status query."""

    provider_reference: str
    status: Status
    amount: Money | None = None
    reason: str = ""
    raw: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    """The HTTP answer a provider expects to its callback."""

    status: int = 200
    content_type: str = "text/plain"
    body: str = "OK"


class Provider(ABC):
    """A mobile-money provider, built per organizer from its decrypted credentials.

    `start` never settles anything; `verify` is pure (no I/O); providers whose callbacks carry
    no proof (`confirm_callbacks`) are asked again with `query` before a callback is believed.
    """

    identifier: ClassVar[str]
    methods: ClassVar[tuple[str, ...]]
    refund_supported: ClassVar[bool] = False
    confirm_callbacks: ClassVar[bool] = False
    amount_fixed: ClassVar[bool] = False  # the payer can only pay what was asked (STK push)
    required_credentials: ClassVar[tuple[str, ...]] = ()

    def __init__(self, credentials: Mapping[str, str], http: aiohttp.ClientSession) -> None:
        missing = [k for k in self.required_credentials if not credentials.get(k)]
        if missing:
            raise PaymentError(f"{self.identifier} is missing credentials: {', '.join(missing)}")
        self.credentials = dict(credentials)
        self.http = http

    @staticmethod
    @abstractmethod
    def reference_of(callback: Callback) -> str:
        """The key a callback names its payment by (untrusted; raises CallbackRejected)."""

    @abstractmethod
    async def start(self, request: StartRequest) -> Attempt: ...

    @abstractmethod
    def verify(self, callback: Callback, stored: Mapping[str, str]) -> Report:
        """Check the callback's proof and parse it; raises CallbackRejected."""

    @abstractmethod
    async def query(self, provider_reference: str, stored: Mapping[str, str]) -> Report: ...

    async def refund(
        self, provider_reference: str, amount: Money, stored: Mapping[str, str]
    ) -> str:
        """Return the provider's refund reference; by default there is no refund API."""
        raise RefundUnsupported(f"{self.identifier} has no refund API")

    def acknowledge(self, report: Report | None) -> Reply:
        return Reply()
