"""A local Safaricom Daraja (OAuth, STK push, STK query) whose payer answers on command."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import random
import re
import secrets
import string
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
from aiohttp import web
from yarl import URL

from tests.fakes.base import FakeProvider

logger = logging.getLogger(__name__)

SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
EAT = timezone(timedelta(hours=3))
CLOCK_SKEW = timedelta(minutes=5)  # how far a Timestamp may stray from Kenyan time
PHONE = re.compile(r"254[17][0-9]{8}")
TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
STILL_PROCESSING = ("500.001.1001", "The transaction is being processed")  # HTTP 500
RESULTS = {0: "The service request is processed successfully.", 1032: "Request cancelled by user"}


@dataclass
class Push:
    """One STK push as the adapter sent it, and how the payer answered (None: not yet)."""

    body: dict[str, Any]
    merchant_request_id: str
    result_code: int | None = None


def _refusal(status: type[web.HTTPException], code: str, message: str) -> web.HTTPException:
    """Daraja's error shape: {"requestId","errorCode","errorMessage"} with a 4xx/5xx status."""
    body = {"requestId": secrets.token_hex(6), "errorCode": code, "errorMessage": message}
    return status(text=json.dumps(body), content_type="application/json")


def _bad(message: str) -> web.HTTPException:
    return _refusal(web.HTTPBadRequest, "400.002.02", f"Bad Request - Invalid {message}")


def _whole_amount(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value if value > 0 else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value) if int(value) > 0 else None
    return None


class FakeMpesa(FakeProvider):
    """Daraja as the adapter sees it: strict about tokens, Password and formats."""

    identifier = "mpesa"

    def __init__(self) -> None:
        super().__init__()
        self.consumer_key = secrets.token_hex(12)
        self.consumer_secret = secrets.token_hex(16)
        self.shortcode = SANDBOX_SHORTCODE
        self.passkey = SANDBOX_PASSKEY
        self.till = ""  # PartyB expected for CustomerBuyGoodsOnline
        self.expires_in = "3599"  # a string, as Daraja sends it
        self.token_requests = 0
        self.tokens: dict[str, float] = {}  # token -> time.monotonic() expiry
        self.pushes: dict[str, Push] = {}  # CheckoutRequestID -> push
        self.refuse_next: str | None = None  # errorMessage answering the next push with 400
        self.app.router.add_get("/oauth/v1/generate", self._oauth)
        self.app.router.add_post("/mpesa/stkpush/v1/processrequest", self._push)
        self.app.router.add_post("/mpesa/stkpushquery/v1/query", self._query)

    def credentials(self) -> dict[str, str]:
        return {
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "shortcode": self.shortcode,
            "passkey": self.passkey,
            "base_url": self.base_url,
            "currency": "KES",
        }

    def revoke_tokens(self) -> None:
        """Daraja forgetting every token early, so the next API call answers 401."""
        self.tokens.clear()

    async def _oauth(self, request: web.Request) -> web.Response:
        self.token_requests += 1
        pair = f"{self.consumer_key}:{self.consumer_secret}".encode()
        expected = "Basic " + base64.b64encode(pair).decode()
        given = request.headers.get("Authorization", "")
        known = hmac.compare_digest(given.encode(), expected.encode())
        if request.query.get("grant_type") != "client_credentials" or not known:
            raise _refusal(web.HTTPBadRequest, "400.008.01", "Invalid Authentication passed")
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.monotonic() + int(self.expires_in)
        return web.json_response({"access_token": token, "expires_in": self.expires_in})

    async def _signed_body(self, request: web.Request) -> dict[str, Any]:
        """What both STK routes demand: a live Bearer token, JSON, and a correct Password."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or self.tokens.get(token, 0.0) < time.monotonic():
            raise _refusal(web.HTTPUnauthorized, "404.001.03", "Invalid Access Token")
        try:
            body = await request.json()
        except ValueError:
            raise _bad("JSON") from None
        if not isinstance(body, dict) or body.get("BusinessShortCode") != self.shortcode:
            raise _bad("BusinessShortCode")
        stamp = str(body.get("Timestamp", ""))
        try:
            sent = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=EAT)
        except ValueError:
            raise _bad("Timestamp") from None
        if len(stamp) != 14 or abs(sent - datetime.now(EAT)) > CLOCK_SKEW:
            raise _bad("Timestamp")
        password = base64.b64encode(f"{self.shortcode}{self.passkey}{stamp}".encode()).decode()
        if not hmac.compare_digest(str(body.get("Password", "")).encode(), password.encode()):
            raise _bad("Password")
        return body

    def _check_push(self, body: dict[str, Any]) -> None:
        buy_goods = body.get("TransactionType") == "CustomerBuyGoodsOnline"
        checks = {
            "TransactionType": body.get("TransactionType") in TRANSACTION_TYPES,
            "Amount": _whole_amount(body.get("Amount")) is not None,
            "PartyA": PHONE.fullmatch(str(body.get("PartyA"))) is not None,
            "PhoneNumber": PHONE.fullmatch(str(body.get("PhoneNumber"))) is not None,
            "PartyB": body.get("PartyB") == (self.till if buy_goods else self.shortcode),
            "CallBackURL": str(body.get("CallBackURL", "")).startswith(("http://", "https://")),
            "AccountReference": 0 < len(str(body.get("AccountReference", ""))) <= 12,
            "TransactionDesc": 0 < len(str(body.get("TransactionDesc", ""))) <= 13,
        }
        for field, ok in checks.items():
            if not ok:
                raise _bad(field)

    async def _push(self, request: web.Request) -> web.Response:
        body = await self._signed_body(request)
        self._check_push(body)
        if self.refuse_next is not None:
            message, self.refuse_next = self.refuse_next, None
            raise _refusal(web.HTTPBadRequest, "400.002.02", message)
        now = datetime.now(EAT)
        reference = f"ws_CO_{now:%d%m%Y%H%M%S}{random.randrange(10**12):012d}"
        merchant = f"{random.randrange(10**5)}-{random.randrange(10**9)}-1"
        self.pushes[reference] = Push(body, merchant)
        return web.json_response(
            {
                "MerchantRequestID": merchant,
                "CheckoutRequestID": reference,
                "ResponseCode": "0",
                "ResponseDescription": "Success. Request accepted for processing",
                "CustomerMessage": "Success. Request accepted for processing",
            }
        )

    async def _query(self, request: web.Request) -> web.Response:
        body = await self._signed_body(request)
        push = self.pushes.get(str(body.get("CheckoutRequestID")))
        if push is None:
            raise _bad("CheckoutRequestID")
        if push.result_code is None:
            raise _refusal(web.HTTPInternalServerError, *STILL_PROCESSING)
        return web.json_response(
            {
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successsfully",
                "MerchantRequestID": push.merchant_request_id,
                "CheckoutRequestID": body["CheckoutRequestID"],
                "ResultCode": str(push.result_code),  # a string here, a number in callbacks
                "ResultDesc": RESULTS[push.result_code],
            }
        )

    def callback_body(
        self, reference: str, *, paid: bool, amount_minor: int | None = None
    ) -> bytes:
        """The JSON Daraja posts; amounts are whole KES and every number is a JSON number."""
        push = self.pushes.get(reference)
        code = 0 if paid else 1032
        stk: dict[str, Any] = {
            "MerchantRequestID": push.merchant_request_id if push else "29115-34620561-1",
            "CheckoutRequestID": reference,
            "ResultCode": code,
            "ResultDesc": RESULTS[code],
        }
        if paid:
            sent = int(push.body["Amount"]) if push else 1
            amount = sent if amount_minor is None else amount_minor // 100
            phone = int(push.body["PhoneNumber"]) if push else 254708374149
            receipt = "".join(random.choices(string.ascii_uppercase + string.digits, k=10))
            items = [
                {"Name": "Amount", "Value": amount},
                {"Name": "MpesaReceiptNumber", "Value": receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(f"{datetime.now(EAT):%Y%m%d%H%M%S}")},
                {"Name": "PhoneNumber", "Value": phone},
            ]
            stk["CallbackMetadata"] = {"Item": items}
        return json.dumps({"Body": {"stkCallback": stk}}).encode()

    async def complete(
        self, provider_reference: str, *, paid: bool, amount_minor: int | None = None
    ) -> int:
        push = self.pushes[provider_reference]
        push.result_code = 0 if paid else 1032
        body = self.callback_body(provider_reference, paid=paid, amount_minor=amount_minor)
        headers = {"Content-Type": "application/json"}
        async with (
            aiohttp.ClientSession() as client,
            client.post(push.body["CallBackURL"], data=body, headers=headers) as response,
        ):
            logger.info("fake mpesa callback for %s: %s", provider_reference, response.status)
            return response.status

    def forged_callback(self, provider_reference: str) -> tuple[dict[str, str], bytes, str]:
        """A 'paid' callback the payer never approved, sent to a URL with a guessed token."""
        push = self.pushes.get(provider_reference)
        url = push.body["CallBackURL"] if push else f"{self.base_url}/callback"
        guessed = str(URL(url).update_query(t=secrets.token_urlsafe(24)))
        return (
            {"Content-Type": "application/json"},
            self.callback_body(provider_reference, paid=True),
            guessed,
        )
