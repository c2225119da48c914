"""Flutterwave v3 mobile money: the other African markets (UG, GH, RW, ZM, TZ, KE, XAF/XOF)."""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

import aiohttp

from tikiti.core.money import Money, MoneyError
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

DEFAULT_BASE_URL = "https://api.flutterwave.com"
# The charge type follows the currency, which fixes the country (XAF/XOF span several).
CHARGE_TYPES: dict[str, str] = {
    "UGX": "mobile_money_uganda",
    "GHS": "mobile_money_ghana",
    "RWF": "mobile_money_rwanda",
    "ZMW": "mobile_money_zambia",
    "TZS": "mobile_money_tanzania",
    "XAF": "mobile_money_franco",
    "XOF": "mobile_money_franco",
    "KES": "mpesa",
}
# method -> (Flutterwave `network`, name the payer sees on the prompt)
NETWORKS: dict[str, tuple[str, str]] = {
    "mtn": ("MTN", "MTN"),
    "airtel": ("AIRTEL", "Airtel"),
    "mpesa_fw": ("MPESA", "M-Pesa"),
    "vodafone": ("VODAFONE", "Vodafone"),
    "tigo": ("TIGO", "Tigo"),
}
_FAILED = frozenset({"failed", "cancelled", "canceled", "error", "abandoned", "declined"})
# A charge FW has just accepted may not be findable yet; only after this long is "not found" final.
NOT_FOUND_GRACE_SECONDS = 15 * 60
_DEFAULT_EMAIL = "payments@tikiti.invalid"


def _decode(body: bytes | str) -> dict[str, Any] | None:
    """Provider JSON, or None: callers decide whether unreadable means rejected or unavailable."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


def _money(value: object, currency: object) -> Money:
    """FW sends amounts as numbers in major units (20000, 20000.0, "1500.50"): read them exactly."""
    if isinstance(value, bool) or not isinstance(value, int | float | str) or not currency:
        raise MoneyError(f"unreadable amount {value!r} {currency!r}")
    amount = Decimal(str(value).strip())
    if not amount.is_finite() or not -9 < amount.adjusted() < 16:  # "1E+999999999" fills memory
        raise MoneyError(f"unreadable amount {value!r}")
    # normalize() drops the ".0" a float gives even zero-exponent currencies such as UGX.
    return Money.parse(format(amount.normalize(), "f"), str(currency))


def _amount_json(amount: Money) -> int | str:
    """Whole amounts as JSON integers (every UGX/RWF price); fractions as exact decimal strings."""
    text = amount.decimal_string()
    return int(text) if "." not in text else text


def _status(value: object) -> Status:
    text = str(value or "").strip().lower()
    if text == "successful":
        return Status.PAID
    return Status.FAILED if text in _FAILED else Status.PENDING


def _header(headers: Mapping[str, str], name: str) -> str:
    """Headers may be a plain dict from any framework, so find the name in any letter case."""
    for key in (name, name.title()):
        if key in headers:
            return headers[key]
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _report(reference: str, data: Mapping[str, Any], error: type[PaymentError]) -> Report:
    """One parser for webhook and verify payloads; `error` is what an unreadable amount means."""
    status = _status(data.get("status"))
    amount = None
    if status is Status.PAID:
        try:
            amount = _money(data.get("amount"), data.get("currency"))
        except (MoneyError, InvalidOperation) as exc:
            raise error(f"flutterwave sent an unreadable amount: {exc}") from None
    raw: dict[str, object] = {"status": data.get("status"), "flw_ref": data.get("flw_ref")}
    if data.get("id") is not None:
        raw["flw_id"] = str(data["id"])
    reason = "" if status is Status.PAID else str(data.get("processor_response") or "")
    return Report(reference, status, amount, reason, raw)


class Flutterwave(Provider):
    """Flutterwave's direct mobile-money charge; webhooks only carry a shared secret, so every
    one is confirmed with a verify call (`confirm_callbacks`)."""

    identifier: ClassVar[str] = "flutterwave"
    methods: ClassVar[tuple[str, ...]] = ("mtn", "airtel", "mpesa_fw", "vodafone", "tigo")
    refund_supported: ClassVar[bool] = True
    confirm_callbacks: ClassVar[bool] = True
    required_credentials: ClassVar[tuple[str, ...]] = ("secret_key", "secret_hash")

    def __init__(
        self,
        credentials: Mapping[str, str],
        http: aiohttp.ClientSession,
        *,
        limits: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(credentials, http)
        self.limits = limits
        base = (self.credentials.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
        self.base_url = base.removesuffix("/v3")  # accept either spelling of the base
        self.country = (self.credentials.get("country") or "UG").upper()

    async def _call(self, method: str, path: str, payload: object = None) -> Answer:
        headers = {
            "Authorization": f"Bearer {self.credentials['secret_key']}",
            "Accept": "application/json",
        }
        return await call(
            self.http, method, self.base_url + path, provider=self.identifier,
            headers=headers, json=payload, limits=self.limits,
        )  # fmt: skip

    @staticmethod
    def reference_of(callback: Callback) -> str:
        body = _decode(callback.body)
        data = body.get("data") if body else None
        reference = data.get("tx_ref") if isinstance(data, dict) else None
        if not isinstance(reference, str) or not reference:
            raise CallbackRejected("not a Flutterwave charge webhook (no data.tx_ref)")
        return reference

    def _charge_type(self, request: StartRequest) -> str:
        """Refuse early what FW cannot charge, so the buyer hears it before any prompt."""
        charge_type = CHARGE_TYPES.get(request.amount.currency)
        if charge_type is None or request.method not in NETWORKS:
            raise PaymentDeclined(
                f"flutterwave does not support {request.method} in {request.amount.currency}"
            )
        if (charge_type == "mpesa") != (request.method == "mpesa_fw"):
            raise PaymentDeclined(f"{request.method} is not supported in {request.amount.currency}")
        return charge_type

    def _charge_body(self, request: StartRequest, charge_type: str) -> dict[str, object]:
        phone = request.payer_phone.strip().removeprefix("+")
        if not phone.isdigit():
            raise PaymentDeclined("the phone number is not valid")
        body: dict[str, object] = {
            "tx_ref": request.merchant_reference,
            "amount": _amount_json(request.amount),
            "currency": request.amount.currency,
            "email": self.credentials.get("email") or _DEFAULT_EMAIL,
            "phone_number": phone,
            "network": NETWORKS[request.method][0],
            "meta": {"payment_id": str(request.payment_id)},
        }
        if charge_type == "mobile_money_franco":
            body["country"] = self.country  # one type covers many countries; FW needs which
        return body

    async def start(self, request: StartRequest) -> Attempt:
        charge_type = self._charge_type(request)
        body = self._charge_body(request, charge_type)
        answer = await self._call("POST", f"/v3/charges?type={charge_type}", body)
        envelope = self._success(answer, "charge")
        data = envelope.get("data")
        data = data if isinstance(data, dict) else {}
        stored = {"currency": request.amount.currency, "started_at": str(int(time.time()))}
        if data.get("id") is not None:
            stored["flw_id"] = str(data["id"])
        meta = envelope.get("meta")
        authorization = meta.get("authorization") if isinstance(meta, dict) else None
        if isinstance(authorization, dict) and authorization.get("redirect"):
            # Kept for support and an SMS follow-up: a USSD screen cannot show a link.
            stored["redirect_url"] = str(authorization["redirect"])
        label = NETWORKS[request.method][1]
        instructions = f"Approve the {label} prompt on your phone to pay {request.amount.format()}"
        return Attempt(request.merchant_reference, instructions, stored)

    def _success(self, answer: Answer, action: str) -> dict[str, Any]:
        """A 'success' envelope, or the error the buyer should hear: FW's 4xx is a refusal."""
        envelope = _decode(answer.text)
        if answer.status < 400 and envelope is not None and envelope.get("status") == "success":
            return envelope
        if answer.status == 429 or (envelope is None and answer.status < 400):
            raise ProviderUnavailable(f"flutterwave {action} answered {answer.status} unreadably")
        message = str((envelope or {}).get("message") or f"answered {answer.status}")
        logger.info("flutterwave %s refused (%s): %s", action, answer.status, message)
        raise PaymentDeclined(message)

    def verify(self, callback: Callback, stored: Mapping[str, str]) -> Report:
        expected = self.credentials["secret_hash"].encode()
        given = _header(callback.headers, "verif-hash").encode()
        if not given or not hmac.compare_digest(given, expected):
            raise CallbackRejected("verif-hash does not match the secret hash")
        body = _decode(callback.body) or {}
        event = body.get("event")
        if event is not None and event != "charge.completed":
            raise CallbackRejected(f"unexpected flutterwave event {event!r}")
        reference = self.reference_of(callback)
        return _report(reference, body["data"], CallbackRejected)

    def acknowledge(self, report: Report | None) -> Reply:
        """FW wants a quick 200 and retries otherwise; the body is not read."""
        return Reply(200, "text/plain", "OK")

    async def _fetch(self, provider_reference: str, flw_id: str) -> tuple[Answer, dict[str, Any]]:
        """Verify by FW's id when we have it, else by our tx_ref (FW's Uganda reply has no id)."""
        path = f"/v3/transactions/{flw_id}/verify"
        if not flw_id.isdigit():
            path = f"/v3/transactions/verify_by_reference?tx_ref={quote(provider_reference)}"
        answer = await self._call("GET", path)
        return answer, _decode(answer.text) or {}

    async def query(self, provider_reference: str, stored: Mapping[str, str]) -> Report:
        answer, envelope = await self._fetch(provider_reference, stored.get("flw_id", ""))
        data = envelope.get("data")
        if answer.status < 400 and envelope.get("status") == "success" and isinstance(data, dict):
            return self._checked(provider_reference, data, stored)
        message = str(envelope.get("message") or "")
        if answer.status == 404 or "no transaction" in message.lower():
            return self._not_found(provider_reference, stored)
        raise ProviderUnavailable(f"flutterwave verify answered {answer.status}: {message}")

    @staticmethod
    def _checked(reference: str, data: Mapping[str, Any], stored: Mapping[str, str]) -> Report:
        """FW's own checklist: an answer about another tx_ref is not believed at all; amount and
        currency are reported as they are, and the service flags any that differ from the order."""
        if data.get("tx_ref") != reference:
            logger.warning("flutterwave verify of %s named %r", reference, data.get("tx_ref"))
            raise ProviderUnavailable("flutterwave answered about another transaction")
        return _report(reference, data, ProviderUnavailable)

    @staticmethod
    def _not_found(reference: str, stored: Mapping[str, str]) -> Report:
        """Unknown to FW: pending while it may still be indexing a fresh charge, then failed."""
        started = stored.get("started_at", "")
        age = time.time() - int(started) if started.isdigit() else float("inf")
        if age < NOT_FOUND_GRACE_SECONDS:
            return Report(reference, Status.PENDING, reason="not found yet")
        return Report(reference, Status.FAILED, reason="not found")

    async def refund(
        self, provider_reference: str, amount: Money, stored: Mapping[str, str]
    ) -> str:
        flw_id = stored.get("flw_id", "")
        if not flw_id.isdigit():
            flw_id = await self._find_id(provider_reference)
        payload = {"amount": _amount_json(amount)}
        answer = await self._call("POST", f"/v3/transactions/{flw_id}/refund", payload)
        data = self._success(answer, "refund").get("data")
        refund_id = (data.get("id") or data.get("flw_ref")) if isinstance(data, dict) else None
        if refund_id is None:
            logger.warning("flutterwave refund of %s gave no id", provider_reference)
            return f"tx-{flw_id}"
        return str(refund_id)

    async def _find_id(self, provider_reference: str) -> str:
        """Refunds need FW's id, which the Uganda charge reply does not give us."""
        answer, envelope = await self._fetch(provider_reference, "")
        data = envelope.get("data")
        if answer.status >= 400 or not isinstance(data, dict) or data.get("id") is None:
            raise PaymentError(f"flutterwave has no transaction {provider_reference} to refund")
        if data.get("tx_ref") != provider_reference:
            raise PaymentError(f"flutterwave returned another transaction for {provider_reference}")
        return str(data["id"])
