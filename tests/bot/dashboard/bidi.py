"""A small WebDriver BiDi client for the tests: stock Firefox (Debian's firefox-esr) driven over the
protocol it speaks natively, without geckodriver or Playwright's patched Firefox (neither is available).

`launch_firefox()` starts a headless Firefox on a fresh profile whose background network is switched off
(the test machine has no internet), connects to its BiDi websocket and yields a `Session`; `Tab` is one
browsing context with the few commands the dashboard's browser test needs. The websocket is aiohttp's,
already a dependency of Helpline.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

FIREFOX = shutil.which("firefox-esr") or shutil.which("firefox") or "/usr/bin/firefox-esr"
LISTENING = re.compile(r"WebDriver BiDi listening on (ws://\S+)")
MAX_MESSAGE = 64 * 1024 * 1024  # a full-page screenshot of a long page, base64
EVENTS_KEPT = 2000
STDERR_LINES_KEPT = 200

# Everything Firefox would fetch on its own: updates, telemetry and studies, remote settings (block
# lists, experiments), captive portal and connectivity probes, Safe Browsing lists, DNS over HTTPS,
# prefetching. The network is closed; each attempt would only add noise and delay. (Firefox Labs keeps
# Nimbus asking remote settings for recipes, allowed by policy, not by a pref: with the server a data:
# URL that ask fails at once, without the network.)
QUIET_PREFS: dict[str, bool | int | str] = {
    "app.update.disabledForTesting": True,
    "app.update.auto": False,
    "app.update.checkInstallTime": False,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "nimbus.rollouts.enabled": False,
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.unified": False,
    "toolkit.telemetry.archive.enabled": False,
    "toolkit.telemetry.server": "",
    "toolkit.telemetry.reportingpolicy.firstRun": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "datareporting.usage.uploadEnabled": False,
    "browser.ping-centre.telemetry": False,
    "browser.newtabpage.activity-stream.feeds.telemetry": False,
    "browser.newtabpage.activity-stream.telemetry": False,
    "browser.crashReports.unsubmittedCheck.enabled": False,
    "services.settings.server": "data:,",
    "extensions.blocklist.enabled": False,
    "network.captive-portal-service.enabled": False,
    "captivedetect.canonicalURL": "",
    "network.connectivity-service.enabled": False,
    "network.trr.mode": 5,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "network.http.speculative-parallel-limit": 0,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.provider.google4.updateURL": "",
    "browser.safebrowsing.provider.mozilla.updateURL": "",
    "extensions.update.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.systemAddon.update.enabled": False,
    "media.gmp-manager.url": "",
    "browser.region.update.enabled": False,
    "browser.region.network.url": "",
    "geo.provider.network.url": "",
    "browser.search.update": False,
    "browser.topsites.contile.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.startup.page": 0,
    "browser.startup.homepage": "about:blank",
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.shell.checkDefaultBrowser": False,
    "browser.aboutwelcome.enabled": False,
    "datareporting.policy.firstRunURL": "",
    "identity.fxaccounts.enabled": False,
    "dom.push.connection.enabled": False,
    "privacy.trackingprotection.enabled": False,
    "browser.backup.enabled": False,
    "browser.backup.archive.enabled": False,
    "signon.rememberSignons": False,  # no "save this password?" after the login form
}


class BiDiError(Exception):
    """A command the browser answered with an error (its `error` code and `message`)."""

    def __init__(self, method: str, error: str, message: str) -> None:
        super().__init__(f"{method}: {error}: {message}")
        self.error = error


class ScriptError(Exception):
    """The page's script threw (the exception's text as the browser describes it)."""


@dataclass(frozen=True, slots=True)
class Event:
    method: str
    params: dict[str, Any]


def user_js(prefs: Mapping[str, bool | int | str]) -> str:
    """The prefs as a profile's user.js."""
    def literal(value: bool | int | str) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        return json.dumps(value)  # a JSON string is a JavaScript string literal
    return "".join(f'user_pref({json.dumps(name)}, {literal(value)});\n' for name, value in prefs.items())


def to_local(value: Any) -> dict[str, Any]:
    """A Python value as a BiDi LocalValue (an argument to a page function)."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, int | float):
        return {"type": "number", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, list | tuple):
        return {"type": "array", "value": [to_local(item) for item in value]}
    if isinstance(value, dict):
        return {"type": "object", "value": [[str(key), to_local(item)] for key, item in value.items()]}
    raise TypeError(f"no BiDi LocalValue for {type(value).__name__}")


SPECIAL_NUMBERS = {"NaN": float("nan"), "-0": -0.0, "Infinity": float("inf"), "-Infinity": float("-inf")}


def from_remote(remote: Mapping[str, Any]) -> Any:
    """A BiDi RemoteValue as Python: JSON-like values; anything else (nodes, functions) stays the raw dict."""
    kind, value = remote["type"], remote.get("value")
    if kind in ("undefined", "null"):
        return None
    if kind in ("string", "boolean"):
        return value
    if kind == "number":
        return SPECIAL_NUMBERS[value] if isinstance(value, str) else value
    if kind in ("array", "set"):
        return [from_remote(item) for item in value or []]
    if kind in ("object", "map"):
        return {key if isinstance(key, str) else str(from_remote(key)): from_remote(item) for key, item in value or []}
    return dict(remote)


class Session:
    """One BiDi session over one websocket: commands answered by id, events kept in order of arrival."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: deque[Event] = deque(maxlen=EVENTS_KEPT)
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self._socket:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = message.json()
            if data.get("type") == "event":
                async with self._arrived:
                    self.events.append(Event(data["method"], data.get("params", {})))
                    self._arrived.notify_all()
            elif (future := self._waiting.pop(data.get("id"), None)) is not None and not future.done():
                future.set_result(data)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("the browser closed the BiDi connection"))

    async def command(self, method: str, params: Mapping[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
        """Send a command; its result, or BiDiError."""
        command_id = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = future
        await self._socket.send_json({"id": command_id, "method": method, "params": dict(params or {})})
        try:
            answer = await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(command_id, None)
        if answer.get("type") == "error":
            raise BiDiError(method, answer.get("error", "?"), answer.get("message", ""))
        result: dict[str, Any] = answer.get("result", {})
        return result

    async def subscribe(self, *events: str) -> None:
        await self.command("session.subscribe", {"events": list(events)})

    async def wait_for(self, method: str, accept: Callable[[dict[str, Any]], bool] = lambda _: True,
                       after: int = 0, timeout: float = 15) -> Event:
        """The first event `method` that `accept`s, counting from the `after`-th event kept (see `mark`)."""
        async def found() -> Event:
            async with self._arrived:
                while True:
                    for event in itertools.islice(self.events, after, None):
                        if event.method == method and accept(event.params):
                            return event
                    await self._arrived.wait()
        return await asyncio.wait_for(found(), timeout)

    def mark(self) -> int:
        """How many events are kept now: pass as `after` to wait only for later ones."""
        return len(self.events)

    async def tab(self) -> Tab:
        """The browser's first top-level browsing context."""
        tree = await self.command("browsingContext.getTree", {"maxDepth": 0})
        return Tab(self, tree["contexts"][0]["context"])

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.command("browser.close", timeout=10)
        await self._socket.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


class Tab:
    """A top-level browsing context."""

    def __init__(self, session: Session, context: str) -> None:
        self.session = session
        self.context = context

    async def navigate(self, url: str) -> str:
        """Load `url` and wait for its load event; the URL the tab ended on (after redirects)."""
        await self.session.command("browsingContext.navigate",
                                   {"context": self.context, "url": url, "wait": "complete"})
        return await self.url()

    async def url(self) -> str:
        tree = await self.session.command("browsingContext.getTree", {"root": self.context, "maxDepth": 0})
        url: str = tree["contexts"][0]["url"]
        return url

    async def call(self, function: str, *arguments: Any) -> Any:
        """Run the JavaScript `function` (a declaration, e.g. "() => document.title") in the page, await
        what it returns and give it back as Python; ScriptError if it threw."""
        result = await self.session.command("script.callFunction", {
            "functionDeclaration": function, "target": {"context": self.context}, "awaitPromise": True,
            "arguments": [to_local(argument) for argument in arguments], "resultOwnership": "none",
            "serializationOptions": {"maxObjectDepth": 10}})
        if result["type"] == "exception":
            details = result["exceptionDetails"]
            raise ScriptError(f"{details.get('text')} (in {function[:120]})")
        return from_remote(result["result"])

    async def node(self, css: str) -> dict[str, Any]:
        """The one element `css` selects, as a shared reference for input actions."""
        result = await self.session.command("browsingContext.locateNodes",
                                            {"context": self.context, "locator": {"type": "css", "value": css}})
        nodes = result["nodes"]
        assert len(nodes) == 1, f"{css!r} selects {len(nodes)} elements"
        return {"sharedId": nodes[0]["sharedId"]}

    async def click(self, css: str) -> None:
        """A real mouse click in the middle of the element."""
        element = await self.node(css)
        await self.session.command("input.performActions", {"context": self.context, "actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
                {"type": "pointerMove", "x": 0, "y": 0, "origin": {"type": "element", "element": element}},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})

    async def type_into(self, css: str, text: str) -> None:
        """Click into the field, clear it, and type `text` key by key."""
        await self.click(css)
        await self.call("(css) => { document.querySelector(css).value = ''; }", css)
        keys: list[dict[str, str]] = []
        for char in text:
            keys += [{"type": "keyDown", "value": char}, {"type": "keyUp", "value": char}]
        await self.session.command("input.performActions", {"context": self.context, "actions": [
            {"type": "key", "id": "keyboard", "actions": keys}]})

    async def set_viewport(self, width: int, height: int) -> None:
        await self.session.command("browsingContext.setViewport",
                                   {"context": self.context, "viewport": {"width": width, "height": height}})

    async def screenshot(self, path: Path, full_page: bool = False) -> None:
        result = await self.session.command("browsingContext.captureScreenshot", {
            "context": self.context, "origin": "document" if full_page else "viewport",
            "format": {"type": "image/png"}})
        path.write_bytes(base64.b64decode(result["data"]))


@contextlib.asynccontextmanager
async def launch_firefox(executable: str = FIREFOX, start_timeout: float = 60) -> AsyncIterator[Session]:
    """A headless Firefox on a fresh, quiet profile, and a BiDi session with it; everything is removed after."""
    profile = Path(tempfile.mkdtemp(prefix="helpline-firefox-"))
    (profile / "user.js").write_text(user_js(QUIET_PREFS))
    env = {**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1", "MOZ_HEADLESS": "1"}
    # A process group of its own: Firefox's content processes go with it.
    process = await asyncio.create_subprocess_exec(
        executable, "--headless", "--no-remote", "--remote-debugging-port=0", "--profile", str(profile),
        "about:blank", stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True)
    stderr_tail: deque[str] = deque(maxlen=STDERR_LINES_KEPT)
    listening: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def drain_stderr() -> None:
        # Read to the end, so that Firefox never blocks on a full pipe.
        assert process.stderr is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip()
            stderr_tail.append(line)
            if not listening.done() and (found := LISTENING.search(line)):
                listening.set_result(found.group(1))
        if not listening.done():
            listening.set_exception(RuntimeError("Firefox ended before it listened:\n" + "\n".join(stderr_tail)))

    drainer = asyncio.create_task(drain_stderr())
    http: aiohttp.ClientSession | None = None
    session: Session | None = None
    try:
        try:
            address = await asyncio.wait_for(listening, start_timeout)
        except TimeoutError:
            raise RuntimeError("Firefox did not start WebDriver BiDi:\n" + "\n".join(stderr_tail)) from None
        http = aiohttp.ClientSession()
        socket = await http.ws_connect(address.rstrip("/") + "/session", max_msg_size=MAX_MESSAGE)
        session = Session(socket)
        await session.command("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": False}}})
        yield session
    finally:
        if session is not None:
            await session.close()
        if http is not None:
            await http.close()
        try:
            await asyncio.wait_for(process.wait(), 15)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # a content process left behind, if any
        drainer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drainer
        shutil.rmtree(profile, ignore_errors=True)
