"""Absolute links inside ticket messages, made when a message is sent rather than written.

Core writes a ticket's message in the transaction that issues the ticket, where neither the
server's public address nor its secret is known. It leaves a marker instead; the worker, which
knows both, puts in the link for the ticket's *current* version, so a message sent after a
reissue never carries a dead link.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tikiti.core import media
from tikiti.core.ports import Outgoing

WATCH_MARK = "[[watch]]"


@dataclass(frozen=True, slots=True)
class Links:
    public_url: str
    secret: str = dataclasses.field(repr=False)

    def qr(self, ticket_id: int, version: int) -> str:
        token = media.token(self.secret, ticket_id, version, media.QR)
        return f"{self.public_url.rstrip('/')}/t/{token}.png"

    def watch(self, ticket_id: int, version: int) -> str:
        token = media.token(self.secret, ticket_id, version, media.WATCH)
        return f"{self.public_url.rstrip('/')}/watch/{token}"

    def render(self, message: Outgoing) -> Outgoing:
        """A ticket message gets its QR image link (for channels that show pictures) and its
        stream link in place of the marker; any other message is left as it is."""
        if message.ticket_id is None or message.ticket_version is None:
            return message
        ticket, version = message.ticket_id, message.ticket_version
        body = message.body
        if WATCH_MARK in body:
            body = body.replace(WATCH_MARK, self.watch(ticket, version))
        return dataclasses.replace(
            message, body=body, media_url=message.media_url or self.qr(ticket, version)
        )
