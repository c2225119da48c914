"""Who may open which admin page: one rule per route, declared beside it in the route table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tikiti.core.models import Role


@dataclass(frozen=True, slots=True)
class Allow:
    """The roles a route admits; a public route admits people who have not signed in too."""

    roles: frozenset[Role]
    public: bool = False

    def permits(self, role: Role | None) -> bool:
        return self.public or (role is not None and role in self.roles)


PUBLIC = Allow(frozenset(), public=True)
EVERYONE = Allow(frozenset(Role))
OWNERS = Allow(frozenset({Role.OWNER}))
MANAGERS = Allow(frozenset({Role.OWNER, Role.MANAGER}))
SELLERS = Allow(frozenset({Role.OWNER, Role.MANAGER, Role.BOX_OFFICE}))

LABELS: Mapping[Role, str] = {
    Role.OWNER: "Owner",
    Role.MANAGER: "Manager",
    Role.BOX_OFFICE: "Box office",
    Role.GATE: "Gate staff",
}

# Where each role lands after signing in: the first page its work starts from.
HOMES: Mapping[Role, str] = {
    Role.OWNER: "dashboard",
    Role.MANAGER: "dashboard",
    Role.BOX_OFFICE: "orders",
    Role.GATE: "scanner",
}

# The navigation, in order; each entry shows only to the roles its route admits.
NAV: tuple[tuple[str, str], ...] = (
    ("Dashboard", "dashboard"),
    ("Events", "events"),
    ("Orders", "orders"),
    ("Reports", "reports"),
    ("Team", "team"),
    ("Audit log", "audit"),
    ("Scanner", "scanner"),
    ("Account", "account"),
)


def home(role: Role) -> str:
    return HOMES[role]


def nav_for(role: Role, access: Mapping[str, Allow]) -> list[tuple[str, str]]:
    """The entries of NAV this role may open; a route missing from `access` never shows."""
    return [(label, name) for label, name in NAV if name in access and access[name].permits(role)]
