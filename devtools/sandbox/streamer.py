"""The sandbox's streamer: Schwab's WebSocket protocol (schwab-api.md section 6) for ACCT_ACTIVITY.

A client sends `{"requests": [...]}` frames: ADMIN LOGIN with an access token and the `streamerInfo` ids,
then ACCT_ACTIVITY SUBS (or UNSUBS), ADMIN LOGOUT. Replies carry `content.code` (0 success, 3 login
denied, 12 one connection per user, 20 not logged in, 21 bad command, 11 service not available, 25 ADD
refused, 30 stop streaming). Every order change in the book goes out as `data` with a per-connection
`seq`; heartbeats go out as `notify`. Faults (state.StreamFault) drop, stall, refuse or expire on demand.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from devtools.sandbox.state import SandboxState, Token

logger = logging.getLogger(__name__)

SUCCESS, LOGIN_DENIED, SERVICE_NOT_AVAILABLE, CLOSE_CONNECTION = 0, 3, 11, 12
NOT_LOGGED_IN, BAD_COMMAND, FAILED_ADD, STOP_STREAMING = 20, 21, 25, 30
DENIED_MESSAGE = "Login Denied.: token is invalid or has expired."


def _now_ms() -> int:
    return int(time.time() * 1000)


def _reply(request: dict[str, Any], code: int, msg: str) -> str:
    return json.dumps(
        {
            "response": [
                {
                    "service": request.get("service"),
                    "command": request.get("command"),
                    "requestid": request.get("requestid"),
                    "SchwabClientCorrelId": request.get("SchwabClientCorrelId"),
                    "timestamp": _now_ms(),
                    "content": {"code": code, "msg": msg},
                }
            ]
        }
    )


def _notice(code: int, msg: str) -> str:
    return json.dumps(
        {"notify": [{"service": "ADMIN", "timestamp": _now_ms(), "content": {"code": code, "msg": msg}}]}
    )


class _Session:
    """One streamer connection: its login, its subscription and its outgoing messages in order."""

    def __init__(self, streamer: SandboxStreamer, websocket: ServerConnection) -> None:
        self.streamer = streamer
        self.state = streamer.state
        self.websocket = websocket
        self.token: Token | None = None
        self.subscribed_key: str | None = None
        self.seq = 0
        self.silent_until = 0.0
        self.outbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.loop = asyncio.get_running_loop()
        self.tasks: list[asyncio.Task[None]] = []

    # Called by the book, on whatever thread changed it.
    def on_activity(self, username: str, account_number: str, item: dict[str, Any]) -> None:
        token = self.token
        if token is None or token.grant.user.username != username or self.subscribed_key is None:
            return
        if account_number in token.grant.account_numbers:
            self.loop.call_soon_threadsafe(self.outbox.put_nowait, (self.subscribed_key, item))

    async def run(self) -> None:
        self.tasks += [asyncio.create_task(self._send_activity()), asyncio.create_task(self._heartbeats())]
        try:
            async for frame in self.websocket:
                if not await self._handle(frame):
                    break
        except ConnectionClosed:
            pass
        finally:
            for task in self.tasks:
                task.cancel()
            self._end()

    def _end(self) -> None:
        with self.state.lock:
            if self.on_activity in self.state.activity_listeners:
                self.state.activity_listeners.remove(self.on_activity)
            if self.token is not None:
                self.state.stream_sessions[self.token.grant.user.username] -= 1
                self.token = None

    async def _handle(self, frame: str | bytes) -> bool:
        """Answer one frame; False once the session is over."""
        try:
            requests = json.loads(frame)["requests"]
            if not isinstance(requests, list) or not all(isinstance(item, dict) for item in requests):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            await self.websocket.send(_reply({}, BAD_COMMAND, "Bad command format"))
            return True
        for request in requests:
            if not await self._command(request):
                return False
        return True

    async def _command(self, request: dict[str, Any]) -> bool:
        service, command = request.get("service"), request.get("command")
        if service == "ADMIN" and command == "LOGIN":
            return await self._login(request)
        if self.token is None:
            await self.websocket.send(
                _reply(request, NOT_LOGGED_IN, "Stream connection not found: LOGIN first")
            )
            return True
        if service == "ADMIN" and command == "LOGOUT":
            await self.websocket.send(_reply(request, SUCCESS, "SUCCESS"))
            await self.websocket.close()
            return False
        if service != "ACCT_ACTIVITY":
            await self.websocket.send(
                _reply(request, SERVICE_NOT_AVAILABLE, f"Service {service} not available")
            )
            return True
        parameters = request.get("parameters") if isinstance(request.get("parameters"), dict) else {}
        if command == "SUBS":
            key = str((parameters or {}).get("keys") or "Account Activity").split(",")[0]
            self.subscribed_key = key
            await self.websocket.send(_reply(request, SUCCESS, "SUBS command succeeded"))
        elif command == "UNSUBS":
            self.subscribed_key = None
            await self.websocket.send(_reply(request, SUCCESS, "UNSUBS command succeeded"))
        elif command == "ADD":
            await self.websocket.send(_reply(request, FAILED_ADD, "ADD is not supported for ACCT_ACTIVITY"))
        else:
            await self.websocket.send(_reply(request, BAD_COMMAND, f"Unknown command {command}"))
        return True

    async def _login(self, request: dict[str, Any]) -> bool:
        parameters = request.get("parameters") if isinstance(request.get("parameters"), dict) else {}
        token = self.state.valid_token(str((parameters or {}).get("Authorization") or ""), "access")
        customer = request.get("SchwabClientCustomerId")
        refused = self.state.take_stream_fault("refuse_login")
        if token is None or refused or customer != f"sandbox-{token.grant.user.username}":
            self.state.stream_stats["login_denied"] += 1
            await self.websocket.send(_reply(request, LOGIN_DENIED, DENIED_MESSAGE))
            await self.websocket.close()
            return False
        username = token.grant.user.username
        with self.state.lock:
            if self.token is None and self.state.stream_sessions[username] > 0:
                busy = True
            else:
                busy = False
                if self.token is None:
                    self.state.stream_sessions[username] += 1
                self.token = token
                self.state.stream_stats["logins"] += 1
                if self.on_activity not in self.state.activity_listeners:
                    self.state.activity_listeners.append(self.on_activity)
        if busy:
            self.state.stream_stats["busy"] += 1
            await self.websocket.send(_reply(request, CLOSE_CONNECTION, "Connection limit: one per user"))
            await self.websocket.close()
            return False
        await self.websocket.send(_reply(request, SUCCESS, "server=sandbox-1;status=PN"))
        self.tasks.append(asyncio.create_task(self._stop_if_idle()))
        return True

    async def _stop_if_idle(self) -> None:
        await asyncio.sleep(self.state.config.stream_idle_seconds)
        if self.subscribed_key is None and self.token is not None:
            try:
                await self.websocket.send(_notice(STOP_STREAMING, "Stop streaming due to empty subscription"))
                await self.websocket.close()
            except ConnectionClosed:
                pass

    async def _send_activity(self) -> None:
        while True:
            key, item = await self.outbox.get()
            fault = self.state.take_stream_fault("drop", "stall", "expire_token", "lose")
            if fault is not None and self.token is not None:
                if fault.kind == "lose":
                    continue  # never sent; the socket, its seq and its heartbeats go on as before
                if fault.kind == "drop":
                    self.websocket.transport.abort()  # no close frame: the client sees 1006
                    return
                if fault.kind == "expire_token":
                    self.state.expire_tokens(username=self.token.grant.user.username, kind="access")
                    await self.websocket.send(_notice(LOGIN_DENIED, DENIED_MESSAGE))
                    await self.websocket.close()
                    return
                self.silent_until = time.monotonic() + fault.seconds
            if time.monotonic() < self.silent_until:
                continue
            self.seq += 1
            content = {"seq": self.seq, "key": key, **item}
            frame = {
                "data": [
                    {
                        "service": "ACCT_ACTIVITY",
                        "timestamp": _now_ms(),
                        "command": "SUBS",
                        "content": [content],
                    }
                ]
            }
            self.state.stream_stats["messages"] += 1
            await self.websocket.send(json.dumps(frame))

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.state.config.stream_heartbeat_seconds)
            if time.monotonic() >= self.silent_until:
                await self.websocket.send(json.dumps({"notify": [{"heartbeat": str(_now_ms())}]}))


class SandboxStreamer:
    """The streamer on its own thread and event loop; `url` goes into userPreference's streamerInfo."""

    def __init__(self, state: SandboxState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="schwab-sandbox-streamer", daemon=True)
        self._connections: set[ServerConnection] = set()

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def start(self) -> SandboxStreamer:
        self._thread.start()
        self._ready.wait()
        self.state.streamer_url = self.url
        return self

    def stop(self) -> None:
        if self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        server: Server
        async with serve(self._session, self.host, self.port, ping_interval=None) as server:
            self.port = server.sockets[0].getsockname()[1] if self.port == 0 else self.port
            self._ready.set()
            await self._stopped.wait()
            server.close(close_connections=False)
            for connection in list(self._connections):
                connection.transport.abort()

    async def _session(self, websocket: ServerConnection) -> None:
        self._connections.add(websocket)
        try:
            await _Session(self, websocket).run()
        finally:
            self._connections.discard(websocket)
