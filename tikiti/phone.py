"""`tikiti phone`: a feature phone in the terminal, dialling USSD as Africa's Talking relays it."""

from __future__ import annotations

import asyncio
import re
import secrets
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import aiohttp

from tikiti.core.phones import normalize_phone

ENDPOINT = "/channels/ussd/africastalking"
NETWORK_CODE = "64804"  # Econet Zimbabwe, as the gateway names it
WIDTH = 30  # the display box, borders included: about what a feature phone shows per line
TIMEOUT = aiohttp.ClientTimeout(total=15)
WALLETS = ("EcoCash", "OneMoney", "M-Pesa", "MTN MoMo", "Airtel Money")
# A closing screen naming a wallet or an approval means a PIN prompt is on its way.
PAYMENT_HINT = re.compile("|".join(["prompt", "approve", *map(re.escape, WALLETS)]), re.I)
# Minor units per major unit differ by currency; two decimals unless listed here.
DECIMALS = {
    **dict.fromkeys(("BIF", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "RWF", "UGX"), 0),
    **dict.fromkeys(("XAF", "XOF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}

Ask = Callable[[str], str]
Say = Callable[[str], None]


class HopFailed(Exception):
    """The server could not be asked or answered badly; the message is one line for the user."""


@dataclass(frozen=True)
class Options:
    url: str
    msisdn: str
    code: str = "*384*1234#"
    script: list[str] | None = None  # inputs sent without asking anyone
    pin: str | None = None  # answers sandbox prompts by itself: approve with this PIN
    decline: bool = False  # … or decline them
    wait: float = 10.0  # how long a payment screen may take to put a prompt on the phone
    interval: float = 0.5
    token: str = ""  # the server's TIKITI_CALLBACK_TOKEN, which the gateway's URL carries


def display(text: str, title: str) -> str:
    """Frame a screen as a small handset would wrap it, so text lengths look as they will."""
    inner = WIDTH - 4
    rows = [row for line in text.splitlines() or [""] for row in textwrap.wrap(line, inner) or [""]]
    top = "+" + f"- {title} ".ljust(WIDTH - 2, "-") + "+"
    return "\n".join([top, *(f"| {row:<{inner}} |" for row in rows), "+" + "-" * (WIDTH - 2) + "+"])


def amount(prompt: dict[str, str]) -> str:
    """The prompt carries minor units; a payer reads major units, as the operator shows them."""
    currency = prompt.get("currency", "")
    places = DECIMALS.get(currency, 2)
    digits = prompt.get("amount_minor", "0").rjust(places + 1, "0")
    whole, fraction = digits[: len(digits) - places], digits[len(digits) - places :]
    return f"{currency} {whole}" + (f".{fraction}" if fraction else "")


def scripted(items: list[str], say: Say) -> Ask:
    """Feed a script as if typed, echoing each line so the transcript reads like a session."""
    queue = list(items)

    def ask(cue: str) -> str:
        if not queue:
            raise EOFError
        say(cue + queue[0])
        return queue.pop(0)

    return ask


class Phone:
    """One handset on one line: the gateway's sessionId and the inputs so far, as AT keeps them."""

    def __init__(self, http: aiohttp.ClientSession, options: Options, ask: Ask, say: Say) -> None:
        self.http, self.options, self.ask, self.say = http, options, ask, say
        self.interactive = options.script is None
        self.session_id = ""
        self.inputs: list[str] = []
        self.screen = ""
        self.retry: list[str] | None = None  # the inputs of a hop that failed, to send again
        self.sandbox = True  # until /sandbox answers 404: production servers have none
        self.left: set[str] = set()  # prompts the user chose to leave waiting

    @property
    def ended(self) -> bool:
        return self.screen.startswith("END ")

    async def dial(self) -> None:
        self.session_id = "ATUid_" + secrets.token_hex(8)
        self.inputs, self.screen = [], ""
        await self.hop([])

    async def step(self, line: str) -> None:
        """One typed line: 'r' redials at any time; otherwise it is the next input."""
        if line.lower() == "r":
            await self.dial()
        elif self.retry is not None or self.ended:
            await self._after_stop(line)
        elif line:
            await self.hop([*self.inputs, line])

    async def _after_stop(self, line: str) -> None:
        """After a failed hop Enter resends it; after an END Enter dials again."""
        if line:
            again = "retries" if self.retry is not None else "dials again"
            self.say(f"Enter {again}, 'r' redials, 'q' quits.")
        elif self.retry is not None:
            await self.hop(self.retry)
        else:
            await self.dial()

    async def hop(self, inputs: list[str]) -> None:
        """Send one hop; only a good answer moves the session on, so a failed one can be resent."""
        try:
            screen = await self._post(inputs)
        except HopFailed as error:
            self.retry = inputs
            self.say(str(error))
            if self.interactive:
                self.say("Press Enter to retry, 'r' to redial, or 'q' to quit.")
            return
        self.inputs, self.retry, self.screen = inputs, None, screen
        self.say(display(screen[4:], self.options.code))
        self.say("[session ended]" if self.ended else "Reply:")
        await self.prompts()
        if self.ended and self.interactive:
            self.say("Press Enter to dial again, or 'q' to quit.")

    async def _post(self, inputs: list[str]) -> str:
        form = {
            "sessionId": self.session_id,
            "serviceCode": self.options.code,
            "phoneNumber": self.options.msisdn,
            "networkCode": NETWORK_CODE,
            "text": "*".join(inputs),
        }
        url = self.options.url + ENDPOINT
        if self.options.token:
            url += "?" + urlencode({"token": self.options.token})
        try:
            async with self.http.post(url, data=form) as response:
                status, body = response.status, await response.text()
        except aiohttp.ClientConnectorError:
            raise HopFailed(f"Cannot reach {self.options.url}: is the server running?") from None
        except TimeoutError:
            raise HopFailed(f"No answer from {self.options.url} within 15 seconds.") from None
        except aiohttp.ClientError as error:
            raise HopFailed(f"The request to {url} failed: {error}") from None
        snippet = " ".join(body.split())[:80]
        if status != 200:
            raise HopFailed(f"The server answered HTTP {status}: {snippet or 'no details'}")
        if not body.startswith(("CON ", "END ")):
            raise HopFailed(f"The server's answer is not a USSD screen: {snippet!r}")
        return body

    async def prompts(self) -> None:
        """Answer PIN prompts on the phone; after a pay screen, wait a while for the push."""
        expect = self.ended and bool(PAYMENT_HINT.search(self.screen))
        deadline = time.monotonic() + (self.options.wait if expect else 0)
        waiting = await self._waiting()
        if not waiting and expect and self.sandbox:
            self.say("(waiting for the payment prompt...)")
        while not waiting and self.sandbox and time.monotonic() < deadline:
            await asyncio.sleep(self.options.interval)
            waiting = await self._waiting()
        for prompt in waiting:
            await self.answer(prompt)

    async def _waiting(self) -> list[dict[str, str]]:
        if not self.sandbox:
            return []
        url = f"{self.options.url}/sandbox/phone/{self.options.msisdn}/prompts"
        try:
            async with self.http.get(url) as response:
                if response.status == 404:
                    self.sandbox = False
                    return []
                body = await response.json() if response.status == 200 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return []
        found = body.get("prompts") if isinstance(body, dict) else None
        prompts = [p for p in found if isinstance(p, dict)] if isinstance(found, list) else []
        return [
            {k: str(v) for k, v in p.items()} for p in prompts if str(p.get("id")) not in self.left
        ]

    def wallet(self) -> str:
        """The sandbox does not say which wallet it plays; the pay screen named it."""
        return next((w for w in WALLETS if w.lower() in self.screen.lower()), "Mobile money")

    async def answer(self, prompt: dict[str, str]) -> None:
        merchant = prompt.get("merchant") or "the merchant"
        text = f"{self.wallet()}: pay {amount(prompt)} to {merchant}?"
        if prompt.get("description"):
            text += f"\n{prompt['description']}"
        self.say(display(text + "\nEnter PIN to approve, or 'n' to decline", "payment"))
        action = self._action()
        if action is None:
            self.left.add(prompt["id"])
            self.say("The prompt is left waiting; it times out at the operator.")
            return
        self.say(await self._send_answer(prompt, action))

    def _action(self) -> dict[str, str] | None:
        """The answer to a prompt: from --pin/--decline, else asked; None leaves it waiting."""
        if self.options.pin or self.options.decline:
            self.say("PIN> " + ("n" if self.options.decline else "****"))
            if self.options.decline:
                return {"action": "decline"}
            return {"action": "approve", "pin": self.options.pin or ""}
        if not self.interactive:
            self.say("(no --pin or --decline given)")
            return None
        while True:
            line = self.ask("PIN> ").strip()
            if not line:
                return None
            if line.lower() == "n":
                return {"action": "decline"}
            if re.fullmatch(r"\d{4}", line):
                return {"action": "approve", "pin": line}
            self.say("The PIN is 4 digits; 'n' declines, Enter leaves the prompt waiting.")

    async def _send_answer(self, prompt: dict[str, str], action: dict[str, str]) -> str:
        url = f"{self.options.url}/sandbox/phone/prompts/{prompt['id']}"
        try:
            async with self.http.post(url, json=action) as response:
                status = response.status
                body = await response.json() if status == 200 else {}
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            return f"Could not answer the prompt: {error or type(error).__name__}"
        if status == 409:
            return "That prompt is no longer waiting (answered elsewhere or timed out)."
        if status != 200 or not isinstance(body, dict):
            return f"The sandbox answered HTTP {status}."
        if body.get("status") == "paid":
            return f"{self.wallet()}: you paid {amount(prompt)} to {prompt.get('merchant')}."
        return f"{self.wallet()}: payment not made ({body.get('reason', 'failed')})."


async def session(options: Options, ask: Ask = input, say: Say = print) -> int:
    """Dial, then one hop per line until 'q' or end of input; 1 if the last hop failed."""
    read = ask if options.script is None else scripted(options.script, say)
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
        phone = Phone(http, options, read, say)
        say(f"Dialling {options.code} from {options.msisdn} at {options.url}")
        if phone.interactive:
            say("Type a reply and press Enter; 'r' redials, 'q' quits.")
        await phone.dial()
        while phone.interactive or phone.retry is None:
            try:
                line = read("> ").strip()
            except EOFError:
                break
            if line.lower() == "q":
                break
            await phone.step(line)
    return 0 if phone.retry is None else 1


def run(
    url: str,
    msisdn: str,
    code: str,
    *,
    script: str | None = None,
    pin: str | None = None,
    decline: bool = False,
    token: str = "",
    ask: Ask = input,
    say: Say = print,
) -> int:
    """`tikiti phone`: needs no TIKITI_* settings, only a running server to dial."""
    if not url.startswith(("http://", "https://")):
        say("tikiti phone: --url must start with http:// or https://")
        return 2
    if pin is not None and not re.fullmatch(r"\d{4}", pin):
        say("tikiti phone: --pin must be 4 digits")
        return 2
    inputs = None if script is None else [item.strip() for item in script.split(",")]
    # An invalid number raises InvalidInput, which the command line prints as one line.
    options = Options(
        url.rstrip("/"), normalize_phone(msisdn), code, inputs, pin, decline, token=token
    )
    return asyncio.run(session(options, ask, say))
