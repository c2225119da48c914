"""Safaricom M-Pesa Daraja STK Push: a PIN prompt on the payer's phone, confirmed by a query."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import aiohttp
from yarl import URL

from tikiti.core.money import Money
from tikiti.payments.base import (
    Attempt,
    Callback,
    CallbackRejected,
    PaymentDeclined,
    PaymentError,
    Provider,
    ProviderUnavailable,
    Reply,
    Report,
    StartRequest,
    Status,
)
from tikiti.payments.http import DEFAULT_TIMEOUT, Answer, call

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://sandbox.safaricom.co.ke"
OAUTH_PATH = "/oauth/v1/generate?grant_type=client_credentials"
EAT = timezone(timedelta(hours=3), "EAT")  # Daraja timestamps are Kenyan wall-clock time
TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
TRANSACTION_DESC = "Tickets"  # the limit is commonly quoted as 13 characters
EXPIRY_MARGIN_SECONDS = 60  # renew before Daraja expires it, so no call races the expiry
MAX_CALLBACK_BYTES = 16_384  # a real STK callback is under 1 KiB
MAX_REFERENCE = 64
REFUSED_BEARER = "404.001.03"  # Daraja's errorCode for "Invalid Access Token"
# errorCode (HTTP 500) or ResultCode Daraja's query answers while the payer has not answered.
STILL_PROCESSING = frozenset({"500.001.1001", "4999"})
FAILURES = {1: "insufficient balance", 1032: "cancelled", 1037: "timeout", 2001: "wrong PIN"}
_MSISDN = re.compile(r"\+?(254[17][0-9]{8})")
_DIGITS = re.compile(r"[0-9]{1,15}")


def _json_object(text: str | bytes) -> dict[str, Any]:
    """A JSON object, or {} for anything else: callers decide what a missing field means."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {}
    return value if isinstance(value, dict) else {}


def _stk_callback(body: bytes) -> tuple[str, dict[str, Any]]:
    """(CheckoutRequestID, Body.stkCallback); anything else is not a Daraja callback."""
    if len(body) > MAX_CALLBACK_BYTES:
        raise CallbackRejected("M-Pesa callback too large")
    outer = _json_object(body).get("Body")
    inner = outer.get("stkCallback") if isinstance(outer, dict) else None
    stk: dict[str, Any] = inner if isinstance(inner, dict) else {}
    reference = stk.get("CheckoutRequestID")
    if not isinstance(reference, str) or not 0 < len(reference) <= MAX_REFERENCE:
        raise CallbackRejected("not an M-Pesa STK callback")
    return reference, stk


def _metadata(stk: Mapping[str, Any]) -> dict[str, object]:
    """CallbackMetadata items by Name: items may be missing, reordered or lack a Value."""
    meta = stk.get("CallbackMetadata")
    items = meta.get("Item") if isinstance(meta, dict) else None
    named = [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
    return {i["Name"]: i["Value"] for i in named if isinstance(i.get("Name"), str) and "Value" in i}


def _whole(value: object) -> int | None:
    """A whole non-negative number, given as a JSON number or a string (Daraja does both)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _msisdn(phone: str) -> str:
    match = _MSISDN.fullmatch(re.sub(r"[\s-]", "", phone))
    if match is None:
        raise PaymentDeclined("M-Pesa can only prompt Kenyan Safaricom numbers (+2547…)")
    return str(match.group(1))


async def _send(
    http: aiohttp.ClientSession, url: str, headers: Mapping[str, str], payload: object,
    limits: aiohttp.ClientTimeout, *, keep_5xx: bool,
) -> Answer:  # fmt: skip
    return await call(
        http, "POST", url, provider="mpesa", headers=headers, json=payload, limits=limits,
        keep_5xx=keep_5xx,
    )  # fmt: skip


class Mpesa(Provider):
    """Lipa na M-Pesa Online; unsigned callbacks are checked by URL token, then by query()."""

    identifier = "mpesa"
    methods = ("mpesa",)
    refund_supported = False  # reversals are out of scope: refunds are paid out by hand
    confirm_callbacks = True
    amount_fixed = True  # an STK push asks for one amount; the payer cannot change it
    required_credentials = ("consumer_key", "consumer_secret", "shortcode", "passkey")

    # Shared by every instance: Daraja rate-limits OAuth and a token outlives one payment.
    # Keyed by (base URL, consumer key, digest of the secret); values (token, monotonic expiry).
    _tokens: ClassVar[dict[tuple[str, str, str], tuple[str, float]]] = {}
    _locks: ClassVar[dict[tuple[str, str, str], asyncio.Lock]] = {}

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
        self.currency = self.credentials.get("currency") or "KES"
        self.transaction_type = self.credentials.get("transaction_type") or TRANSACTION_TYPES[0]
        if self.transaction_type not in TRANSACTION_TYPES:
            raise PaymentError(f"unknown M-Pesa transaction_type {self.transaction_type!r}")
        self._unit: int = 10 ** Money.zero(self.currency).exponent
        # The secret is part of the key so a wrong secret never rides on another's token.
        secret = hashlib.sha256(self.credentials["consumer_secret"].encode()).hexdigest()
        self._cache_key = (self.base_url, self.credentials["consumer_key"], secret)

    def _cached(self) -> str | None:
        value, expires_at = self._tokens.get(self._cache_key, ("", 0.0))
        return value if value and expires_at > time.monotonic() else None

    async def _token(self) -> str:
        """A cached token, fetched once for all concurrent callers when missing or expired."""
        async with self._locks.setdefault(self._cache_key, asyncio.Lock()):
            cached = self._cached()
            if cached is None:
                cached, expires_at = await self._fetch_token()
                self._tokens[self._cache_key] = (cached, expires_at)
            return cached

    async def _fetch_token(self) -> tuple[str, float]:
        key, secret = self.credentials["consumer_key"], self.credentials["consumer_secret"]
        basic = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}
        url, limits = self.base_url + OAUTH_PATH, self.limits
        answer = await call(self.http, "GET", url, provider="mpesa", headers=basic, limits=limits)
        body = _json_object(answer.text)
        value = body.get("access_token")
        if answer.status != 200 or not isinstance(value, str) or not value:
            logger.error("mpesa gave no access token: HTTP %s", answer.status)
            if 400 <= answer.status < 500 and answer.status != 429:
                # Neither declined nor unavailable: the organizer's configuration is wrong.
                raise PaymentError("M-Pesa refused this organizer's API credentials")
            raise ProviderUnavailable("mpesa gave no access token")
        lifetime = _whole(body.get("expires_in"))  # a string, e.g. "3599"
        if lifetime is None:
            logger.warning("mpesa token without a readable expires_in: using it once")
        return value, time.monotonic() + (lifetime or 0) - EXPIRY_MARGIN_SECONDS

    async def _post(self, path: str, payload: Mapping[str, str], *, keep_5xx: bool) -> Answer:
        """A Bearer-authorized POST; a token Daraja refuses (revoked early) is renewed once."""
        url, limits = self.base_url + path, self.limits
        token = await self._token()
        bearer = {"Authorization": f"Bearer {token}"}
        answer = await _send(self.http, url, bearer, payload, limits, keep_5xx=keep_5xx)
        code = _json_object(answer.text).get("errorCode")
        if answer.status != 401 and code != REFUSED_BEARER:
            return answer
        logger.info("mpesa refused a cached token; fetching a new one")
        if self._cached() == token:  # unless a concurrent caller already replaced it
            del self._tokens[self._cache_key]
        bearer = {"Authorization": f"Bearer {await self._token()}"}
        return await _send(self.http, url, bearer, payload, limits, keep_5xx=keep_5xx)

    def _signed(self) -> dict[str, str]:
        """BusinessShortCode, Timestamp (EAT) and Password = base64(shortcode+passkey+Timestamp)."""
        shortcode = self.credentials["shortcode"]
        timestamp = datetime.now(EAT).strftime("%Y%m%d%H%M%S")
        secret = f"{shortcode}{self.credentials['passkey']}{timestamp}".encode()
        password = base64.b64encode(secret).decode("ascii")
        return {"BusinessShortCode": shortcode, "Password": password, "Timestamp": timestamp}

    def _shillings(self, amount: Money) -> int:
        """M-Pesa moves whole shillings only: refuse rather than round the buyer's price."""
        if amount.currency != self.currency or amount.minor <= 0 or amount.minor % self._unit:
            raise PaymentDeclined(f"M-Pesa takes whole {self.currency} amounts only, not {amount}")
        return amount.minor // self._unit

    async def start(self, request: StartRequest) -> Attempt:
        whole, phone = self._shillings(request.amount), _msisdn(request.payer_phone)
        token = secrets.token_urlsafe(24)  # the only proof a callback can carry: see verify()
        till = self.credentials.get("till") if self.transaction_type == TRANSACTION_TYPES[1] else ""
        payload = self._signed() | {
            "TransactionType": self.transaction_type,
            "Amount": str(whole),
            "PartyA": phone,
            "PartyB": till or self.credentials["shortcode"],
            "PhoneNumber": phone,
            "CallBackURL": str(URL(request.callback_url).update_query(t=token)),
            "AccountReference": request.merchant_reference[:12],
            "TransactionDesc": TRANSACTION_DESC,
        }
        answer = await self._post("/mpesa/stkpush/v1/processrequest", payload, keep_5xx=False)
        reference, merchant_request_id = self._accepted(request, answer)
        return Attempt(
            provider_reference=reference,
            instructions=f"Enter your M-Pesa PIN on your phone to pay {self.currency} {whole:,}",
            stored={"callback_token": token, "merchant_request_id": merchant_request_id},
        )

    def _accepted(self, request: StartRequest, answer: Answer) -> tuple[str, str]:
        """(CheckoutRequestID, MerchantRequestID) of an accepted push; otherwise why not."""
        body = _json_object(answer.text)
        if answer.status == 200 and str(body.get("ResponseCode")) == "0":
            reference = body.get("CheckoutRequestID")
            if isinstance(reference, str) and 0 < len(reference) <= MAX_REFERENCE:
                return reference, str(body.get("MerchantRequestID") or "")
            raise ProviderUnavailable("mpesa accepted the push but named no CheckoutRequestID")
        reason = body.get("errorMessage") or body.get("ResponseDescription") or answer.status
        logger.warning("mpesa refused push %s: %s", request.merchant_reference, reason)
        refused = 400 <= answer.status < 500 and answer.status != 429
        if refused or (answer.status == 200 and "ResponseCode" in body):
            raise PaymentDeclined(f"M-Pesa refused the payment: {reason}")
        raise ProviderUnavailable(f"mpesa answered the push with HTTP {answer.status}")

    @staticmethod
    def reference_of(callback: Callback) -> str:
        return _stk_callback(callback.body)[0]

    def verify(self, callback: Callback, stored: Mapping[str, str]) -> Report:
        """The URL token proves only that the caller saw our push; query() proves payment."""
        expected = stored.get("callback_token", "").encode()
        if not expected or not hmac.compare_digest(callback.query.get("t", "").encode(), expected):
            raise CallbackRejected("M-Pesa callback without this payment's token")
        reference, stk = _stk_callback(callback.body)
        code = _whole(stk.get("ResultCode"))
        if code is None:
            raise CallbackRejected("M-Pesa callback without a ResultCode")
        raw: dict[str, object] = {"ResultCode": code, "ResultDesc": stk.get("ResultDesc")}
        if code != 0:
            reason = FAILURES.get(code) or str(stk.get("ResultDesc") or code)
            return Report(reference, Status.FAILED, reason=reason, raw=raw)
        items = _metadata(stk)
        raw |= {k: items.get(k) for k in ("MpesaReceiptNumber", "TransactionDate", "Amount")}
        whole = _whole(items.get("Amount"))
        if whole is None:
            logger.warning("mpesa paid callback for %s without a readable Amount", reference)
        amount = None if whole is None else Money(whole * self._unit, self.currency)
        return Report(reference, Status.PAID, amount=amount, raw=raw)

    def acknowledge(self, report: Report | None) -> Reply:
        return Reply(200, "application/json", '{"ResultCode":0,"ResultDesc":"Accepted"}')

    async def query(self, provider_reference: str, stored: Mapping[str, str]) -> Report:
        """Daraja's own word on a push; the reply has no amount, so neither has the report."""
        payload = self._signed() | {"CheckoutRequestID": provider_reference}
        answer = await self._post("/mpesa/stkpushquery/v1/query", payload, keep_5xx=True)
        return self._query_report(provider_reference, answer)

    def _query_report(self, reference: str, answer: Answer) -> Report:
        body = _json_object(answer.text)
        if {str(body.get("errorCode")), str(body.get("ResultCode"))} & STILL_PROCESSING:
            return Report(reference, Status.PENDING, raw=body)
        code = _whole(body.get("ResultCode")) if answer.status == 200 else None
        if code is None or body.get("CheckoutRequestID", reference) != reference:
            why = body.get("errorMessage") or answer.text[:200]
            logger.warning("mpesa query for %s: HTTP %s %s", reference, answer.status, why)
            raise ProviderUnavailable(f"mpesa could not say how {reference} went")
        raw = {k: body.get(k) for k in ("ResultCode", "ResultDesc", "MerchantRequestID")}
        if code == 0:
            return Report(reference, Status.PAID, raw=raw)
        reason = FAILURES.get(code) or str(body.get("ResultDesc") or code)
        return Report(reference, Status.FAILED, reason=reason, raw=raw)
