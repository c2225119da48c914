"""SQLAlchemy models: the schema, declared once; Alembic migrations follow it."""

from tikiti.core.models.agents import Agent, AgentRate
from tikiti.core.models.base import Base
from tikiti.core.models.catalog import (
    Event,
    EventStatus,
    Seat,
    Section,
    SectionKind,
    Tier,
    TierPrice,
    Venue,
)
from tikiti.core.models.gate import GateConflict, GateSalt, GateScan, GateStaff, GateToken
from tikiti.core.models.ledger import LedgerEntry
from tikiti.core.models.orders import (
    Buyer,
    Hold,
    HoldState,
    Order,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentAccount,
    PaymentEvent,
    PaymentStatus,
    SeatClaim,
)
from tikiti.core.models.organizers import AuditEntry, Organizer, Role, User
from tikiti.core.models.outbox import OutboxMessage, OutboxStatus
from tikiti.core.models.promos import PromoCode, PromoRedemption
from tikiti.core.models.resellers import Reseller, ResellerAllocation
from tikiti.core.models.telegram import TelegramChat
from tikiti.core.models.tickets import CheckIn, Ticket, TicketStatus
from tikiti.core.models.transfers import TicketTransfer
from tikiti.core.models.waitlist import WaitlistEntry
from tikiti.core.models.watch import WatchDevice

__all__ = [
    "Agent",
    "AgentRate",
    "AuditEntry",
    "Base",
    "Buyer",
    "CheckIn",
    "Event",
    "EventStatus",
    "GateConflict",
    "GateSalt",
    "GateScan",
    "GateStaff",
    "GateToken",
    "Hold",
    "HoldState",
    "LedgerEntry",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Organizer",
    "OutboxMessage",
    "OutboxStatus",
    "Payment",
    "PaymentAccount",
    "PaymentEvent",
    "PaymentStatus",
    "PromoCode",
    "PromoRedemption",
    "Reseller",
    "ResellerAllocation",
    "Role",
    "Seat",
    "SeatClaim",
    "Section",
    "SectionKind",
    "TelegramChat",
    "Ticket",
    "TicketStatus",
    "TicketTransfer",
    "Tier",
    "TierPrice",
    "User",
    "Venue",
    "WaitlistEntry",
    "WatchDevice",
]
