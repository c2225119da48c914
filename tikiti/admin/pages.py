"""Rendering admin pages: the shared template context, error pages and response headers."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from tikiti.admin import csrf, roles
from tikiti.admin.keys import ACCESS, SESSION, VIEWER
from tikiti.core.errors import CoreError, InvalidInput, NotFound
from tikiti.core.models import Role
from tikiti.core.money import Money
from tikiti.typedefs import SETTINGS

logger = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Everything comes from this server; nothing may frame the admin (clickjacking).
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
HSTS = "max-age=31536000"


def money(value: Money | tuple[Money, ...] | list[Money]) -> str:
    if isinstance(value, Money):
        return value.format()
    return " · ".join(m.format() for m in value) or "–"


def local_time(value: datetime | None, zone: str = "UTC", style: str = "%d %b %Y %H:%M") -> str:
    """Times are stored in UTC and shown in the organizer's zone."""
    if value is None:
        return "–"
    return value.astimezone(ZoneInfo(zone)).strftime(style)


def role_label(role: Role) -> str:
    return roles.LABELS[role]


FILTERS: dict[str, Callable[..., str]] = {
    "money": money,
    "local_time": local_time,
    "role": role_label,
}


def csrf_token(request: web.Request) -> str:
    session = request.get(SESSION)
    return session.csrf if session else request.cookies.get(csrf.LOGIN_COOKIE, "")


def render(
    request: web.Request,
    template: str,
    context: Mapping[str, object] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    viewer = request.get(VIEWER)
    base: dict[str, object] = {
        "viewer": viewer,
        "nav": roles.nav_for(viewer.role, request.config_dict[ACCESS]) if viewer else [],
        "home": roles.home(viewer.role) if viewer else "login",
        "zone": viewer.timezone if viewer else "UTC",
        "csrf_token": csrf_token(request),
        "csrf_field": csrf.FIELD,
        "current": request.match_info.route.name,
    }
    response = aiohttp_jinja2.render_template(
        template, request, {**base, **(context or {})}, status=status
    )
    response.headers["Cache-Control"] = "no-store"  # nothing private stays on a shared phone
    return response


def redirect(location: object, *, status: int = 303) -> web.Response:
    """After a form, 303 See Other: the browser fetches the next page with GET."""
    return web.Response(status=status, headers={"Location": str(location)})


def error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return render(request, "admin/error.html", {"title": title, "message": message}, status=status)


def forbidden(request: web.Request) -> web.Response:
    viewer = request.get(VIEWER)
    who = roles.LABELS[viewer.role].lower() if viewer else "signed-out"
    return error_page(
        request, 403, "Not for your role", f"This page is not part of the {who} role."
    )


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)  # the gate page brings its own CSP
    if request.config_dict[SETTINGS].public_url.startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a page in the admin's own look; traces go to the log only."""
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return error_page(request, 404, "Not found", "There is nothing at this address.")
    except web.HTTPMethodNotAllowed:
        return error_page(request, 405, "Not allowed", "This address does not take that.")
    except web.HTTPException:
        raise
    except NotFound:
        return error_page(request, 404, "Not found", "There is nothing at this address.")
    except InvalidInput as error:
        logger.info("admin refused input on %s: %s", request.path, error)
        return error_page(request, 400, "Please check what you typed", str(error))
    except CoreError as error:  # a step that does not fit the thing's state now
        logger.info("admin refused a step on %s: %s", request.path, error)
        return error_page(request, 409, "Not possible now", str(error))
    except (RedisError, OSError, SQLAlchemyError):
        logger.exception("admin could not reach a service on %s", request.path)
        return error_page(request, 503, "Try again", "The service is busy. Try again shortly.")
    except Exception:
        logger.exception("admin error on %s %s", request.method, request.path)
        return error_page(request, 500, "Something went wrong", "It has been logged.")


def install(app: web.Application) -> None:
    app.middlewares.append(errors)
    app.on_response_prepare.append(_headers)
