"""Typed keys for what the admin keeps on its sub-application and on each request."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from tikiti.admin.roles import Allow
from tikiti.admin.sessions import Session
from tikiti.core.users import Member

# Set by the guard on every request that carries a live session.
VIEWER = web.RequestKey("admin_viewer", Member)
SESSION = web.RequestKey("admin_session", Session)
# Route name -> who may open it; the navigation is drawn from it.
ACCESS = web.AppKey[Mapping[str, Allow]]("admin_access")
# Static file name -> URL with a content hash, so phones cache the files for good.
ASSETS = web.AppKey[Mapping[str, str]]("admin_assets")
