"""The dashboard: today's and all-time sales, by tier, channel and gate, and the last 14 days."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web
from markupsafe import Markup

from tikiti.admin.chart import Bar, bar_chart
from tikiti.admin.keys import VIEWER
from tikiti.admin.pages import render
from tikiti.core import reports
from tikiti.core.reports import Dashboard
from tikiti.typedefs import DATABASE

REFRESH_SECONDS = 15
CHANNELS = {
    "ussd": "USSD",
    "sms": "SMS",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "agent": "Agents",
    "box_office": "Box office",
    "web": "Web",
}


def channel_label(channel: str) -> str:
    return CHANNELS.get(channel, channel.replace("_", " ").capitalize())


def sales_chart(figures: Dashboard) -> Markup:
    bars = [
        Bar(
            label=str(day.day.day),
            value=day.tickets,
            title=f"{day.day:%a %d %b}: {day.tickets} tickets",
        )
        for day in figures.days
    ]
    return bar_chart(bars, caption=f"Tickets sold per day, last {len(bars)} days")


async def _context(request: web.Request) -> dict[str, object]:
    viewer = request[VIEWER]
    async with request.config_dict[DATABASE].session() as session:
        figures = await reports.dashboard(session, viewer.organizer_id)
    return {
        "figures": figures,
        "chart": sales_chart(figures),
        "channel_label": channel_label,
        "updated_at": datetime.now(UTC),
        "refresh_seconds": REFRESH_SECONDS,
    }


async def page(request: web.Request) -> web.StreamResponse:
    return render(request, "admin/dashboard.html", await _context(request))


async def live(request: web.Request) -> web.StreamResponse:
    """Just the figures, for the page's script to swap in while the dashboard stays open."""
    return render(request, "admin/_dashboard_figures.html", await _context(request))
