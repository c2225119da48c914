"""One error tree for the domain; each error has a stable code that channels translate."""

from __future__ import annotations


class CoreError(Exception):
    code = "core_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = details


class NotFound(CoreError):
    code = "not_found"


class InvalidInput(CoreError):
    code = "invalid_input"


class InvalidState(CoreError):
    code = "invalid_state"


class SoldOut(CoreError):
    """Fewer places are left than were asked for; `available` says how many remain."""

    code = "sold_out"

    def __init__(self, message: str, *, tier_id: int, available: int) -> None:
        super().__init__(message, tier_id=tier_id, available=available)
        self.tier_id = tier_id
        self.available = available


class SalesClosed(CoreError):
    code = "sales_closed"


class LimitExceeded(CoreError):
    code = "limit_exceeded"


class PriceUnavailable(CoreError):
    code = "price_unavailable"
