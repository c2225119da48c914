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
