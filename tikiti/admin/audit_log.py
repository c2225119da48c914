"""The audit log page: every change in the admin and by the system, newest first, for owners."""

from __future__ import annotations

import json
import logging
import re

from aiohttp import web

from tikiti.admin.keys import VIEWER
from tikiti.admin.pages import error_page, render
from tikiti.core import audit
from tikiti.typedefs import DATABASE

logger = logging.getLogger(__name__)
PAGE_SIZE = 50
MAX_PAGE = 100_000


def details(data: dict[str, object]) -> str:
    """The entry's data as short "key: value" text, the way an owner reads it."""
    return ", ".join(
        f"{key}: {value if isinstance(value, str | int | float) else json.dumps(value)}"
        for key, value in sorted(data.items())
    )


async def page(request: web.Request) -> web.StreamResponse:
    raw = request.query.get("page", "1")
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= MAX_PAGE:
        logger.info("admin: audit page %r refused", raw[:20])
        return error_page(request, 400, "No such page", "The page number must be 1 or more.")
    async with request.config_dict[DATABASE].read() as connection:
        found = await audit.page(
            connection, request[VIEWER].organizer_id, number=int(raw), size=PAGE_SIZE
        )
    return render(request, "admin/audit.html", {"page": found, "details": details})
