"""What a screen or a guard may use: the session, the inbound message, core, and the gateway."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tikiti.core.catalog import EventSummary
from tikiti.core.db import Database
from tikiti.core.ports import PaymentGateway
from tikiti.dialogs.i18n import translate
from tikiti.dialogs.session import Session
from tikiti.dialogs.types import Followup, Inbound


@dataclass
class Ctx:
    session: Session
    inbound: Inbound
    db: Database
    payments: PaymentGateway
    now: datetime
    default_country: str = "ZW"
    followups: list[Followup] = field(default_factory=list)
    listing: dict[str, tuple[float, list[EventSummary]]] = field(default_factory=dict)
    listing_ttl: float = 0.0

    def t(self, message: str, **values: object) -> str:
        return translate(self.session.language, message, **values)

    @property
    def data(self) -> dict[str, object]:
        return self.session.data

    def number(self, key: str) -> int:
        value = self.session.data.get(key)
        if not isinstance(value, int):
            raise LookupError(f"the conversation has no {key} yet")
        return value
