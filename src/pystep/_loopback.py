"""The one-shot HTTP listener that receives the OAuth redirect on 127.0.0.1.

It serves in a background thread so the caller can open a browser (or run a scripted one)
while :meth:`CallbackListener.wait` blocks. Only a request to ``/`` carrying the right
``state`` decides the outcome (the state is the secret that proves the provider sent the
browser here): a ``code`` succeeds, an ``error`` or a missing ``code`` fails. Anything
else (a wrong or missing ``state``, which any local process or web page could send, or
another path such as ``/favicon.ico``) gets a 400 or 404 and the wait goes on. Each
connection has a socket timeout, so a client that never sends its request cannot stall
the listener.
"""

from __future__ import annotations

import hmac
import html
import http.server
import threading
import urllib.parse
from types import TracebackType
from typing import Any

from pystep.errors import InputError, ProvisionerError

_PAGE = (
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>"
    "<body style=\"font-family:sans-serif;text-align:center;margin-top:4em\">"
    "<h1>{title}</h1><p>{text}</p></body></html>"
)
HANDLER_TIMEOUT = 10.0  # seconds a connection may take to send its request
SUCCESS_TEXT = "You are signed in. You can close this window and return to the terminal."


def parse_listen(listen: str | None) -> tuple[str, int, str]:
    """``host:port`` → (bind host, port, host for the redirect URI)."""
    if not listen:
        return "127.0.0.1", 0, "127.0.0.1"
    host, sep, port_text = listen.rpartition(":")
    if not sep or not port_text.isdigit() or int(port_text) > 65535:
        raise InputError(f"invalid value '{listen}' for flag '--listen': expected host:port")
    host = host.strip("[]") or "127.0.0.1"
    return host, int(port_text), host


class CallbackListener:
    """Context manager: listens on enter, stops on exit."""

    def __init__(self, listen: str | None, state: str) -> None:
        self._bind, self._port, self._redirect_host = parse_listen(listen)
        self._state = state
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._code: str | None = None
        self._error: str | None = None
        self._server: http.server.HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def redirect_uri(self) -> str:
        assert self._server is not None
        port = self._server.server_address[1]
        host = self._redirect_host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}"

    def __enter__(self) -> CallbackListener:
        listener = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = HANDLER_TIMEOUT

            def do_GET(self) -> None:
                listener._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        try:
            # One thread per connection: a client that stalls cannot delay the redirect.
            self._server = http.server.ThreadingHTTPServer((self._bind, self._port), Handler)
            self._server.daemon_threads = True
        except OSError as exc:
            raise ProvisionerError(
                f"cannot listen on {self._bind}:{self._port} for the OAuth redirect: "
                f"{exc.strerror or exc}"
            ) from exc
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def wait(self, timeout: float) -> str:
        """The authorization code, or ProvisionerError on failure or timeout."""
        if not self._done.wait(timeout):
            raise ProvisionerError("oauth command timed out, please try again")
        if self._error is not None or self._code is None:
            raise ProvisionerError(self._error or "no authorization code in the OAuth redirect")
        return self._code

    def _handle(self, req: http.server.BaseHTTPRequestHandler) -> None:
        with self._lock:
            self._decide(req)

    def _decide(self, req: http.server.BaseHTTPRequestHandler) -> None:
        parts = urllib.parse.urlsplit(req.path)
        if parts.path != "/" or self._done.is_set():
            self._respond(req, 404, "Not found", "")
            return
        query = urllib.parse.parse_qs(parts.query)

        def one(name: str) -> str:
            return query.get(name, [""])[0]

        if not hmac.compare_digest(one("state").encode(), self._state.encode()):
            # Not from the provider's redirect: ignore it and keep waiting.
            self._respond(req, 400, "Failure", "invalid 'state' in the OAuth redirect")
        elif one("error"):
            desc = one("error_description")
            err = f"{one('error')}: {desc}" if desc else one("error")
            self._fail(req, f"error from the OpenID provider: {err}")
        elif not one("code"):
            self._fail(req, "no authorization code in the OAuth redirect")
        else:
            self._code = one("code")
            self._respond(req, 200, "Success", SUCCESS_TEXT)
            self._done.set()

    def _fail(self, req: http.server.BaseHTTPRequestHandler, message: str) -> None:
        self._error = message
        self._respond(req, 400, "Failure", message)
        self._done.set()

    @staticmethod
    def _respond(
        req: http.server.BaseHTTPRequestHandler, status: int, title: str, text: str
    ) -> None:
        body = _PAGE.format(title=html.escape(title), text=html.escape(text)).encode("utf-8")
        req.send_response(status)
        req.send_header("Content-Type", "text/html; charset=utf-8")
        req.send_header("Content-Length", str(len(body)))
        req.send_header("Connection", "close")
        req.end_headers()
        req.wfile.write(body)
