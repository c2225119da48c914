"""A local Paynow: express checkout, poll URLs and hashed result posts, as PROTOCOLS.md 4.1 says."""

from __future__ import annotations

import hashlib
import itertools
import re
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web

from tests.fakes.base import FakeProvider

DECLINED_NUMBERS = {"0774444444": "Insufficient balance"}
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
_PHONE = re.compile(r"07[0-9]{8}")
_METHODS = ("ecocash", "onemoney")
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def sign(pairs: list[tuple[str, str]], key: str) -> str:
    """Written here again, not imported, so the fake checks the adapter instead of echoing it."""
    text = "".join(value for name, value in pairs if name.lower() != "hash") + key.lower()
    return hashlib.sha512(text.encode("utf-8")).hexdigest().upper()


def signed_body(pairs: list[tuple[str, str]], key: str) -> str:
    return urlencode([*pairs, ("hash", sign(pairs, key))])


@dataclass
class Transaction:
    """One express checkout as the fake remembers it."""

    reference: str
    paynow_reference: str
    poll_id: str
    amount: str
    phone: str
    method: str
    result_url: str
    status: str = "Created"


class FakePaynow(FakeProvider):
    """Paynow's express checkout; the payer acts through `complete`."""

    identifier = "paynow"

    def __init__(self) -> None:
        super().__init__()
        self.integration_id = "1201"
        self.integration_key = str(uuid.uuid4())
        self.auth_email = "organizer@example.com"
        self.transactions: dict[str, Transaction] = {}
        self.received: list[list[tuple[str, str]]] = []  # every initiation form, in wire order
        self._numbers = itertools.count(9510)
        self.app.router.add_post("/interface/remotetransaction", self._initiate)
        self.app.router.add_route("*", "/interface/poll/{poll_id}", self._poll)

    def credentials(self) -> dict[str, str]:
        return {
            "integration_id": self.integration_id,
            "integration_key": self.integration_key,
            "auth_email": self.auth_email,
            "base_url": self.base_url,
            "currency": "USD",
        }

    def _error(self, text: str) -> web.Response:
        return web.Response(text=urlencode([("status", "Error"), ("error", text)]))

    def _refusal(self, fields: dict[str, str], pairs: list[tuple[str, str]]) -> str | None:
        """Paynow's checks, in roughly the order Paynow reports them."""
        if fields.get("id") != self.integration_id:
            return "Invalid Id."
        expected = sign(pairs, self.integration_key)
        if fields.get("hash", "").upper() != expected:
            return f"Invalid Hash. Hash should start with: {expected[:6]}"
        if not _AMOUNT.fullmatch(fields.get("amount", "")) or float(fields["amount"]) <= 0:
            return "Invalid amount field"
        if fields.get("authemail") != self.auth_email:
            return "Invalid authemail"
        if fields.get("method") not in _METHODS:
            return "Invalid payment method"
        if not fields.get("reference") or not fields.get("resulturl"):
            return "Missing reference or resulturl"
        if not _PHONE.fullmatch(fields.get("phone", "")):
            return "Invalid mobile number"
        return DECLINED_NUMBERS.get(fields["phone"])

    async def _initiate(self, request: web.Request) -> web.Response:
        pairs = parse_qsl(await request.text(), keep_blank_values=True)
        self.received.append(pairs)
        fields = {name.lower(): value for name, value in pairs}
        refusal = self._refusal(fields, pairs)
        if refusal is not None:
            return self._error(refusal)
        txn = Transaction(
            reference=fields["reference"],
            paynow_reference=str(next(self._numbers)),
            poll_id=str(uuid.uuid4()),
            amount=fields["amount"],
            phone=fields["phone"],
            method=fields["method"],
            result_url=fields["resulturl"],
        )
        txn.status = "Sent"  # the USSD prompt is on its way to the payer
        self.transactions[txn.reference] = txn
        reply = [
            ("status", "Ok"),
            ("instructions", f"Dial *151*2*4# and enter your PIN on {txn.phone}"),
            ("pollurl", self._poll_url(txn)),
            ("paynowreference", txn.paynow_reference),
        ]
        return web.Response(text=signed_body(reply, self.integration_key))

    def _poll_url(self, txn: Transaction) -> str:
        return f"{self.base_url}/interface/poll/{txn.poll_id}"

    def _status_pairs(self, txn: Transaction) -> list[tuple[str, str]]:
        """The fields of a result post and of a poll answer (same set, same order)."""
        return [
            ("reference", txn.reference),
            ("paynowreference", txn.paynow_reference),
            ("amount", txn.amount),
            ("status", txn.status),
            ("pollurl", self._poll_url(txn)),
        ]

    async def _poll(self, request: web.Request) -> web.Response:
        poll_id = request.match_info["poll_id"]
        txn = next((t for t in self.transactions.values() if t.poll_id == poll_id), None)
        if txn is None:
            return self._error("Transaction not found")
        return web.Response(text=signed_body(self._status_pairs(txn), self.integration_key))

    async def complete(
        self, provider_reference: str, *, paid: bool, amount_minor: int | None = None
    ) -> int:
        txn = self.transactions[provider_reference]
        txn.status = "Paid" if paid else "Cancelled"
        if amount_minor is not None:
            txn.amount = f"{amount_minor // 100}.{amount_minor % 100:02d}"
        body = signed_body(self._status_pairs(txn), self.integration_key)
        async with (
            aiohttp.ClientSession() as session,
            session.post(txn.result_url, data=body, headers=_FORM) as response,
        ):
            return response.status

    def forged_callback(self, provider_reference: str) -> tuple[dict[str, str], bytes, str]:
        txn = self.transactions[provider_reference]
        pairs = [*self._status_pairs(txn)[:3], ("status", "Paid"), ("pollurl", self._poll_url(txn))]
        body = signed_body(pairs, str(uuid.uuid4()))
        return dict(_FORM), body.encode(), txn.result_url
