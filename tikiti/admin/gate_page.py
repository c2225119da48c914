"""The gate scanner page: one HTML file and its static scripts, served from the package.

The page signs in with a gate token (a bearer credential for one event), not an admin login,
so it bypasses the admin's guard; gate staff who do sign in to the admin land on `staff_page`,
which leads them here.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tikiti.admin.pages import render

STATIC = Path(__file__).parent / "static" / "gate"
STATIC_PREFIX = "/admin/static/gate"
# Everything the page needs comes from this server; the camera is the only powerful feature.
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Revalidated on every load (a cheap 304), so a fixed page reaches every phone at once.
    "Cache-Control": "no-cache",
}


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)


async def staff_page(request: web.Request) -> web.StreamResponse:
    return render(request, "admin/scanner.html")


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(STATIC_PREFIX + "/"):
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path == f"{STATIC_PREFIX}/sw.js":  # it keeps the page itself, one level up
        response.headers["Service-Worker-Allowed"] = "/admin/gate"


def add_routes(admin: web.Application) -> None:
    """On the admin sub-application, which is mounted at /admin: the page's files name it."""
    admin.router.add_get("/gate", page, name="gate_page")
    admin.router.add_static("/static/gate", STATIC, name="gate_static")
    admin.on_response_prepare.append(_static_headers)
