"""Serve a SandboxApp over HTTP on a thread per request, from a background thread, with
its streamer (a WebSocket on its own port, advertised in userPreference) and the market's tick, which
fills working orders as prices move even when nobody reads them."""

from __future__ import annotations

import logging
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from devtools.sandbox import execution
from devtools.sandbox.app import SandboxApp
from devtools.sandbox.state import SandboxConfig, SandboxState
from devtools.sandbox.streamer import SandboxStreamer

logger = logging.getLogger(__name__)


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("sandbox %s", format % args)


class SandboxServer:
    """A running sandbox: `url` to talk to it, `state` to inspect it, `stop()` to end it."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        streamer_port: int = 0,
    ) -> None:
        self.state = SandboxState(config or SandboxConfig())
        self.app = SandboxApp(self.state)
        self.httpd = make_server(host, port, self.app, _ThreadingWSGIServer, _QuietHandler)
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None
        self.streamer = SandboxStreamer(self.state, host=host, port=streamer_port)
        self._market = threading.Thread(target=self._tick, name="schwab-sandbox-market", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        self._start_streaming()
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.2,), name="schwab-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.state.stopping.set()  # releases hanging and delayed requests, and ends the market's tick
        self.httpd.shutdown()
        self.httpd.server_close()
        self.streamer.stop()
        if self._thread is not None:
            self._thread.join()

    def _start_streaming(self) -> None:
        self.streamer.start()
        self._market.start()

    def _tick(self) -> None:
        while not self.state.stopping.wait(self.state.config.market_tick_seconds):
            execution.advance_all(self.state)
