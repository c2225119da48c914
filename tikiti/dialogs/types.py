"""What a channel hands the dialog (Inbound) and gets back (Reply): no transport in sight."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Inbound:
    channel: str  # "ussd", "sms", "whatsapp", "telegram"
    address: str  # the user's phone number, +E.164
    session_key: str  # a USSD session id; the address for chats
    text: str  # the newest input only
    dedupe_key: str | None = None  # the same key twice is a resent request, answered the same
    new_session: bool = False  # a USSD dial: start at home whatever was there before
    chat: bool = False  # SMS, WhatsApp, Telegram: keywords apply; replies go as messages
    # The screen a button press answers (Reply.screen of the message whose button it was):
    # a tap on an old message's button must not act on whatever screen is current now.
    screen: str | None = None


@dataclass(frozen=True, slots=True)
class Option:
    key: str
    label: str


@dataclass(frozen=True, slots=True)
class Followup:
    """Work the channel runs after it has answered (never inside a USSD hop)."""

    kind: str
    payment_id: int


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    options: tuple[Option, ...] = ()
    navigation: str = ""  # e.g. "0 Back 00 Home 98 More", already translated
    end: bool = False
    followups: tuple[Followup, ...] = field(default_factory=tuple)
    language: str = "en"  # the conversation's, for a reply sent as a message
    screen: str = ""  # a short fingerprint of this screen, for buttons to name (Inbound.screen)

    def as_text(self) -> str:
        """The numbered-text form every text channel shows (USSD, SMS, WhatsApp)."""
        lines = [self.text, *(f"{o.key}. {o.label}" for o in self.options)]
        if self.navigation:
            lines.append(self.navigation)
        return "\n".join(line for line in lines if line)


@dataclass(frozen=True, slots=True)
class Limits:
    """A channel's screen: `chars` includes `overhead` (e.g. USSD's 'CON ')."""

    chars: int
    overhead: int = 0
    gsm7: bool = False

    @property
    def body(self) -> int:
        return self.chars - self.overhead
