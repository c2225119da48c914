"""The gate scanner page: one HTML file and its static scripts, served from the package."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

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


async def _static_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(STATIC_PREFIX + "/"):
        response.headers.setdefault("Cache-Control", "no-cache")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.path == f"{STATIC_PREFIX}/sw.js":  # it keeps the page itself, one level up
        response.headers["Service-Worker-Allowed"] = "/admin/gate"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/admin/gate", page, name="gate_page")
    app.router.add_static(STATIC_PREFIX, STATIC, name="gate_static")
    app.on_response_prepare.append(_static_headers)
