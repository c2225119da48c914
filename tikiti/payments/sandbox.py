"""The sandbox provider: the demo's default, talking to the sandbox operator like a real one."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping

import aiohttp

from tikiti.core.money import Money, MoneyError
from tikiti.payments import http
from tikiti.payments.base import (
    Attempt,
    Callback,
    CallbackRejected,
    PaymentDeclined,
    Provider,
    ProviderUnavailable,
    Report,
    StartRequest,
    Status,
)
from tikiti.payments.sandbox_operator import SIGNATURE_HEADER, sign

SIGNATURE_TOLERANCE = 300  # seconds: an older signed callback is a replay
# A refunded push was paid first: for settlement and reconciliation it counts as paid.
STATUSES = {
    "paid": Status.PAID,
    "refunded": Status.PAID,
    "failed": Status.FAILED,
    "pending": Status.PENDING,
}


def _parse_json(text: str | bytes) -> dict[str, object]:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CallbackRejected("not JSON") from None
    if not isinstance(value, dict):
        raise CallbackRejected("not a JSON object")
    return value


def _report(body: Mapping[str, object]) -> Report:
    try:
        status = STATUSES.get(str(body["status"]), Status.PENDING)
        amount = Money(int(str(body["amount_minor"])), str(body["currency"]))
        return Report(str(body["id"]), status, amount, str(body.get("reason", "")), dict(body))
    except (KeyError, ValueError, MoneyError):
        raise CallbackRejected("malformed sandbox payload") from None


class Sandbox(Provider):
    identifier = "sandbox"
    methods = ("sandbox", "ecocash", "onemoney", "mpesa", "mtn", "airtel")
    refund_supported = True
    required_credentials = ("api_key", "signing_secret", "base_url")

    def __init__(
        self,
        credentials: Mapping[str, str],
        http_session: aiohttp.ClientSession,
        *,
        limits: aiohttp.ClientTimeout = http.DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(credentials, http_session)
        self.base = self.credentials["base_url"].rstrip("/")
        self.limits = limits

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials['api_key']}"}

    async def start(self, request: StartRequest) -> Attempt:
        payload = {
            "reference": request.merchant_reference,
            "amount_minor": request.amount.minor,
            "currency": request.amount.currency,
            "phone": request.payer_phone,
            "description": request.description,
            "merchant": self.credentials.get("merchant_name", "Tikiti"),
            "callback_url": request.callback_url,
            "approve_after": self.credentials.get("approve_after", "0"),
            "failure_rate": self.credentials.get("failure_rate", "0"),
            "timeout": self.credentials.get("timeout", "120"),
        }
        answer = await http.call(
            self.http,
            "POST",
            f"{self.base}/api/pushes",
            provider=self.identifier,
            headers=self._headers(),
            json=payload,
            limits=self.limits,
        )
        if answer.status != 201:
            raise PaymentDeclined(f"sandbox refused the payment ({answer.status})")
        try:
            push_id = str(json.loads(answer.text)["id"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ProviderUnavailable("sandbox answered without a push id") from None
        return Attempt(
            push_id, f"Approve the payment prompt on your phone: {request.amount.format()}."
        )

    @staticmethod
    def reference_of(callback: Callback) -> str:
        # Our own merchant reference: it finds the payment even if the push id never reached us.
        reference = _parse_json(callback.body).get("reference")
        if not isinstance(reference, str) or not reference:
            raise CallbackRejected("no merchant reference")
        return reference

    def verify(self, callback: Callback, stored: Mapping[str, str]) -> Report:
        header = callback.headers.get(SIGNATURE_HEADER, "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            timestamp = int(parts.get("t", ""))
        except ValueError:
            raise CallbackRejected("no signature timestamp") from None
        if abs(time.time() - timestamp) > SIGNATURE_TOLERANCE:
            raise CallbackRejected("signature too old")
        expected = sign(self.credentials["signing_secret"], callback.body, timestamp)
        if not hmac.compare_digest(header, expected):
            raise CallbackRejected("bad signature")
        return _report(_parse_json(callback.body))

    async def query(self, provider_reference: str, stored: Mapping[str, str]) -> Report:
        answer = await http.call(
            self.http,
            "GET",
            f"{self.base}/api/pushes/{provider_reference}",
            provider=self.identifier,
            headers=self._headers(),
            limits=self.limits,
        )
        if answer.status == 404:
            return Report(provider_reference, Status.FAILED, reason="unknown to the sandbox")
        try:
            return _report(_parse_json(answer.text))
        except CallbackRejected:
            raise ProviderUnavailable("sandbox answered something unreadable") from None

    async def refund(
        self, provider_reference: str, amount: Money, stored: Mapping[str, str]
    ) -> str:
        answer = await http.call(
            self.http,
            "POST",
            f"{self.base}/api/pushes/{provider_reference}/refunds",
            provider=self.identifier,
            headers=self._headers(),
            limits=self.limits,
        )
        if answer.status != 201:
            raise PaymentDeclined(f"sandbox refused the refund ({answer.status})")
        try:
            return str(json.loads(answer.text)["refund_id"])
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ProviderUnavailable("sandbox answered a refund without its id") from None


def derived_credentials(secret_key: str, base_url: str) -> dict[str, str]:
    """The sandbox's keys, derived from the application secret so nothing extra is configured."""
    return {
        "api_key": hmac.new(secret_key.encode(), b"sandbox-api-key", "sha256").hexdigest(),
        "signing_secret": hmac.new(secret_key.encode(), b"sandbox-signing", "sha256").hexdigest(),
        "base_url": base_url,
    }
