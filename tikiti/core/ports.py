"""What core needs from the outside, declared here and plugged in by the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PushOutcome:
    ok: bool
    instructions: str = ""
    error: str = ""


class PaymentGateway(Protocol):
    """Asking a provider for money: `begin` records the request; `push` sends the PIN prompt."""

    async def begin(
        self, *, order_id: int, method: str, payer_phone: str, idempotency_key: str
    ) -> int: ...

    async def push(self, payment_id: int) -> PushOutcome: ...


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send, as the outbox holds it."""

    id: int
    channel: str
    address: str
    body: str
    media_url: str | None
    attempts: int
    ticket_id: int | None = None
    ticket_version: int | None = None  # the ticket's version now, for links to it
    options: tuple[tuple[str, str], ...] = ()  # a reply's choices, for chat buttons


class DeliveryError(Exception):
    """A send that did not go through; `permanent` ones are not retried (bad number, opt-out)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class MessageSender(Protocol):
    """Sends one message on one channel; returns the provider's message id for reports."""

    async def send(self, message: Outgoing) -> str: ...
