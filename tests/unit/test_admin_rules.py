"""The admin's pure pieces: CSRF comparison, role rules and navigation, lockout, the bar chart."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tikiti.admin import csrf, roles
from tikiti.admin.app import ROUTES
from tikiti.admin.audit_log import details
from tikiti.admin.chart import HEIGHT, Bar, bar_chart, bar_heights
from tikiti.admin.dashboard import channel_label
from tikiti.admin.lockout import Limits, locked, minutes_left
from tikiti.admin.pages import local_time, money
from tikiti.core.models import Role
from tikiti.core.money import Money

SVG = "{http://www.w3.org/2000/svg}"


def test_a_csrf_token_matches_only_itself() -> None:
    token = csrf.new_token()
    assert len(token) >= 40 and token != csrf.new_token()
    assert csrf.matches(token, token)
    assert not csrf.matches(token, token[:-1])
    assert not csrf.matches(token, token + "x")
    assert not csrf.matches(token, token.upper() if token != token.upper() else token.lower())


@pytest.mark.parametrize(
    ("expected", "given_token"),
    [("", ""), (None, None), ("abc", None), (None, "abc"), ("", "abc"), ("abc", "")],
)
def test_a_missing_csrf_token_never_matches(expected: str | None, given_token: str | None) -> None:
    assert not csrf.matches(expected, given_token)


def test_an_absurdly_long_token_is_refused_without_comparing() -> None:
    assert not csrf.matches("a" * 500, "a" * 500)


@given(st.text(max_size=60), st.text(max_size=60))
def test_csrf_matches_is_plain_equality_of_non_empty_tokens(a: str, b: str) -> None:
    assert csrf.matches(a, b) == (a == b and a != "")


def test_roles_admit_exactly_their_members() -> None:
    assert roles.OWNERS.permits(Role.OWNER)
    assert not roles.OWNERS.permits(Role.MANAGER)
    assert roles.MANAGERS.permits(Role.MANAGER) and not roles.MANAGERS.permits(Role.BOX_OFFICE)
    assert roles.SELLERS.permits(Role.BOX_OFFICE) and not roles.SELLERS.permits(Role.GATE)
    assert all(roles.EVERYONE.permits(role) for role in Role)
    assert not any(allow.permits(None) for allow in (roles.OWNERS, roles.EVERYONE))
    assert roles.PUBLIC.permits(None) and roles.PUBLIC.permits(Role.GATE)


def test_every_route_has_a_unique_name_and_only_sign_in_is_public() -> None:
    names = [route.name for route in ROUTES]
    assert len(names) == len(set(names))
    public = {route.name for route in ROUTES if route.allow.public}
    assert public == {"login", "login_submit"}


def test_every_role_lands_on_a_page_it_may_open() -> None:
    access = {route.name: route.allow for route in ROUTES}
    for role in Role:
        assert access[roles.home(role)].permits(role), role


def test_the_navigation_follows_the_route_rules() -> None:
    access = {route.name: route.allow for route in ROUTES}
    names = {role: [name for _, name in roles.nav_for(role, access)] for role in Role}
    assert names[Role.OWNER] == [
        "dashboard",
        "events",
        "orders",
        "reports",
        "team",
        "audit",
        "scanner",
        "account",
    ]
    assert names[Role.MANAGER] == [
        "dashboard",
        "events",
        "orders",
        "reports",
        "scanner",
        "account",
    ]
    assert names[Role.BOX_OFFICE] == ["orders", "scanner", "account"]
    assert names[Role.GATE] == ["scanner", "account"]
    assert roles.nav_for(Role.OWNER, {}) == []  # an entry without a route never shows


def test_a_lockout_starts_at_either_limit() -> None:
    limits = Limits(per_email=5, per_address=20)
    assert not locked(4, 19, limits)
    assert locked(5, 0, limits)
    assert locked(0, 20, limits)
    assert [minutes_left(s) for s in (1, 59, 60, 61, 900)] == [1, 1, 1, 2, 15]


def test_bars_are_as_tall_as_their_share_of_the_busiest_day() -> None:
    assert bar_heights([0, 5, 10], 100) == [0.0, 50.0, 100.0]
    assert bar_heights([0, 0], 100) == [0.0, 0.0]
    assert bar_heights([], 100) == []
    assert bar_heights([-3, 3], 90) == [0.0, 90.0]


def test_the_chart_is_valid_svg_with_a_bar_and_a_label_per_day() -> None:
    bars = [
        Bar(str(day), value, f"day {day}: {value} tickets") for day, value in enumerate([3, 0, 6])
    ]
    svg = ET.fromstring(str(bar_chart(bars, caption="Tickets per day")))
    rects = svg.findall(f"{SVG}rect")
    assert [float(r.get("height", "")) for r in rects] == [67.0, 0.0, 134.0]
    assert [r.findtext(f"{SVG}title") for r in rects] == [b.title for b in bars]
    values = [t.text for t in svg.findall(f"{SVG}text") if t.get("class") == "value"]
    assert values == ["3", "6"]  # an empty day shows no number
    for rect in rects:  # every bar stands on the same baseline
        assert float(rect.get("y", "")) + float(rect.get("height", "")) == HEIGHT - 20
    assert svg.get("aria-label") == "Tickets per day"


def test_the_chart_escapes_what_it_is_given() -> None:
    markup = str(bar_chart([Bar("<b>", 1, 'a "quote" & <tag>')], caption="<script>"))
    assert "<script>" not in markup and "<b>" not in markup and "<tag>" not in markup
    ET.fromstring(markup)  # still well formed
    assert not re.search(r"style=", markup)  # the admin's CSP allows no inline styles


def test_money_and_times_are_shown_the_organizers_way() -> None:
    assert money((Money(2000, "USD"), Money(54000, "ZWG"))) == "USD 20.00 · ZWG 540.00"
    assert money(()) == "–"
    at = datetime(2025, 3, 1, 22, 30, tzinfo=UTC)
    assert local_time(at, "Africa/Harare") == "02 Mar 2025 00:30"
    assert local_time(None) == "–"


def test_channel_labels_and_audit_details_read_as_words() -> None:
    assert [channel_label(c) for c in ("ussd", "whatsapp", "box_office", "pos_terminal")] == [
        "USSD",
        "WhatsApp",
        "Box office",
        "Pos terminal",
    ]
    assert details({"role": "gate", "email": "a@b.example", "n": 2, "x": [1]}) == (
        "email: a@b.example, n: 2, role: gate, x: [1]"
    )
