"""A local Flutterwave v3: mobile-money charges, verify, refunds, and the dashboard webhook."""

from __future__ import annotations

import itertools
import json
import logging
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from aiohttp import web

from tests.fakes.base import FakeProvider
from tikiti.core.money import Money

logger = logging.getLogger(__name__)

CHARGE_TYPES = {
    "UGX": "mobile_money_uganda",
    "GHS": "mobile_money_ghana",
    "RWF": "mobile_money_rwanda",
    "ZMW": "mobile_money_zambia",
    "TZS": "mobile_money_tanzania",
    "XAF": "mobile_money_franco",
    "XOF": "mobile_money_franco",
    "KES": "mpesa",
}
REQUIRED = ("tx_ref", "amount", "currency", "email", "phone_number")


@dataclass
class Transaction:
    """One charge as FW keeps it; `amount` is what the payer actually paid, in major units."""

    id: int
    tx_ref: str
    amount: Decimal
    currency: str
    phone_number: str
    email: str
    network: str
    charge_type: str
    status: str = "pending"
    refunds: list[Decimal] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        amount = (
            int(self.amount) if self.amount == self.amount.to_integral() else float(self.amount)
        )
        return {
            "id": self.id,
            "tx_ref": self.tx_ref,
            "flw_ref": f"FLW-MOCK-{self.id}",
            "amount": amount,
            "charged_amount": amount,
            "currency": self.currency,
            "status": self.status,
            "payment_type": self.charge_type,
            "processor_response": "Approved" if self.status == "successful" else "Pending",
            "customer": {"phone_number": self.phone_number, "email": self.email},
        }


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "message": message, "data": None}, status=status)


class FakeFlutterwave(FakeProvider):
    """Speaks enough of FW v3 for the adapter; webhooks go to the one `webhook_url` a test sets,
    as FW's go to the single URL configured in the dashboard."""

    identifier = "flutterwave"

    def __init__(self) -> None:
        super().__init__()
        self.secret_key = f"FLWSECK_TEST-{secrets.token_hex(16)}-X"
        self.secret_hash = secrets.token_urlsafe(24)
        self.webhook_url = ""
        self.reply_with_data = True  # False imitates the Uganda reply, which carries no data.id
        self.transactions: dict[int, Transaction] = {}
        self.charges: list[tuple[str, dict[str, Any]]] = []  # (type, body) as received
        self._ids = itertools.count(7_000_001)
        self.app.router.add_post("/v3/charges", self._charge)
        self.app.router.add_get("/v3/transactions/verify_by_reference", self._verify_by_reference)
        self.app.router.add_get("/v3/transactions/{id}/verify", self._verify)
        self.app.router.add_post("/v3/transactions/{id}/refund", self._refund)

    def credentials(self) -> dict[str, str]:
        return {
            "secret_key": self.secret_key,
            "secret_hash": self.secret_hash,
            "base_url": self.base_url,
            "country": "UG",
        }

    def by_reference(self, tx_ref: str) -> Transaction | None:
        return next((t for t in self.transactions.values() if t.tx_ref == tx_ref), None)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization", "") == f"Bearer {self.secret_key}"

    def _refusal(self, charge_type: str, body: dict[str, Any]) -> str:
        """What FW would object to in a charge request, or "" when it is acceptable."""
        missing = [name for name in REQUIRED if not body.get(name)]
        if missing:
            return f"{missing[0]} is required"
        if CHARGE_TYPES.get(body["currency"]) != charge_type:
            return f"Invalid currency {body['currency']} for {charge_type}"
        if self.by_reference(body["tx_ref"]) is not None:
            return "Duplicate transaction reference"
        try:
            Decimal(str(body["amount"]))
        except InvalidOperation:
            return "Invalid amount"
        return ""

    async def _charge(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "Invalid authorization key")
        try:
            body = await request.json()
        except json.JSONDecodeError:
            return _error(400, "Invalid JSON")
        charge_type = request.query.get("type", "")
        self.charges.append((charge_type, body))
        refusal = self._refusal(charge_type, body)
        if refusal:
            return _error(400, refusal)
        amount = Decimal(str(body["amount"]))
        tx = Transaction(
            next(self._ids), body["tx_ref"], amount, body["currency"], str(body["phone_number"]),
            body["email"], str(body.get("network", "")), charge_type,
        )  # fmt: skip
        self.transactions[tx.id] = tx
        reply: dict[str, Any] = {"status": "success", "message": "Charge initiated"}
        reply["meta"] = {"authorization": {"mode": "redirect", "redirect": f"{self.base_url}/r"}}
        if self.reply_with_data:
            reply["data"] = tx.as_json()
        return web.json_response(reply)

    def _found(self, tx: Transaction | None) -> web.Response:
        if tx is None:
            return _error(400, "No transaction was found for this id")
        return web.json_response(
            {
                "status": "success",
                "message": "Transaction fetched successfully",
                "data": tx.as_json(),
            }
        )

    async def _verify(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "Invalid authorization key")
        tx_id = request.match_info["id"]
        return self._found(self.transactions.get(int(tx_id)) if tx_id.isdigit() else None)

    async def _verify_by_reference(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "Invalid authorization key")
        return self._found(self.by_reference(request.query.get("tx_ref", "")))

    async def _refund(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, "Invalid authorization key")
        tx_id = request.match_info["id"]
        tx = self.transactions.get(int(tx_id)) if tx_id.isdigit() else None
        if tx is None or tx.status != "successful":
            return _error(400, "Only successful transactions can be refunded")
        body = await request.json()
        amount = Decimal(str(body.get("amount", tx.amount)))
        if amount <= 0 or sum(tx.refunds, amount) > tx.amount:
            return _error(400, "Refund amount exceeds the transaction amount")
        tx.refunds.append(amount)
        refund = {"id": 90_000 + len(tx.refunds) + tx.id, "tx_id": tx.id, "status": "completed"}
        refund["amount_refunded"] = int(amount) if amount == amount.to_integral() else str(amount)
        return web.json_response(
            {"status": "success", "message": "Transaction refund initiated", "data": refund}
        )

    def _webhook(self, tx: Transaction) -> bytes:
        event_type = "MPESA_TRANSACTION" if tx.currency == "KES" else "MOBILEMONEY_TRANSACTION"
        payload = {"event": "charge.completed", "data": tx.as_json(), "event.type": event_type}
        return json.dumps(payload).encode()

    async def complete(
        self, provider_reference: str, *, paid: bool, amount_minor: int | None = None
    ) -> int:
        """The payer answers the prompt (maybe paying less), then FW posts the webhook."""
        tx = self.by_reference(provider_reference)
        if tx is None or not self.webhook_url:
            raise LookupError(f"no charge {provider_reference} or no webhook_url set")
        tx.status = "successful" if paid else "failed"
        if amount_minor is not None:
            tx.amount = Decimal(Money(amount_minor, tx.currency).decimal_string())
        headers = {"verif-hash": self.secret_hash, "Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.webhook_url, data=self._webhook(tx), headers=headers) as response,
        ):
            logger.debug("flutterwave webhook for %s answered %s", tx.tx_ref, response.status)
            return response.status

    def forged_callback(self, provider_reference: str) -> tuple[dict[str, str], bytes, str]:
        """A 'successful' webhook FW never sent: everything right except the secret hash."""
        tx = self.by_reference(provider_reference)
        forged = Transaction(
            tx.id if tx else 1, provider_reference, tx.amount if tx else Decimal(20000),
            tx.currency if tx else "UGX", "256700000000", "x@example.com", "MTN",
            "mobile_money_uganda", status="successful",
        )  # fmt: skip
        headers = {"verif-hash": secrets.token_urlsafe(24), "Content-Type": "application/json"}
        return headers, self._webhook(forged), self.webhook_url
