"""Typed keys for the resources shared through the aiohttp application."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from tikiti.config import Settings
from tikiti.core.db import Database
from tikiti.core.signing import KeyBox

SETTINGS = web.AppKey("settings", Settings)
DATABASE = web.AppKey("database", Database)
REDIS = web.AppKey("redis", Redis)
KEYBOX = web.AppKey("keybox", KeyBox)
METRICS = web.AppKey("metrics", CollectorRegistry)
HTTP = web.AppKey("http", aiohttp.ClientSession)
# The organizer admin, mounted at /admin; kept so tools and tests can walk its routes.
ADMIN = web.AppKey("admin", web.Application)
