"""The registry of payment providers: adding one is one module and one line here."""

from __future__ import annotations

from collections.abc import Mapping

from tikiti.payments.base import Provider
from tikiti.payments.flutterwave import Flutterwave
from tikiti.payments.mpesa import Mpesa
from tikiti.payments.paynow import Paynow
from tikiti.payments.sandbox import Sandbox

PROVIDERS: Mapping[str, type[Provider]] = {
    cls.identifier: cls
    for cls in (
        Sandbox,
        Paynow,
        Mpesa,
        Flutterwave,
    )
}
