"""Calling a provider's API: bounded in time, and every transport failure is ProviderUnavailable."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp

from tikiti.payments.base import ProviderUnavailable

logger = logging.getLogger(__name__)
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=5)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str
    content_type: str


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    provider: str,
    headers: Mapping[str, str] | None = None,
    data: Mapping[str, str] | None = None,
    json: object = None,
    limits: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    keep_5xx: bool = False,
) -> Answer:
    """One HTTP call; 5xx (unless kept), timeouts and connection errors raise
    ProviderUnavailable. Some providers (M-Pesa) say "still processing" with a 500."""
    try:
        async with http.request(
            method, url, headers=headers, data=data, json=json, timeout=limits
        ) as response:
            text = await response.text(errors="replace")
            if response.status >= 500 and not keep_5xx:
                raise ProviderUnavailable(f"{provider} answered {response.status}")
            return Answer(response.status, text, response.content_type)
    except TimeoutError:
        raise ProviderUnavailable(f"{provider} did not answer in time") from None
    except aiohttp.ClientError as error:
        raise ProviderUnavailable(f"{provider} unreachable: {error}") from None
