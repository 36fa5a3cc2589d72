"""OIDC sign-in hardening with local servers: endpoint URL checks, https→http redirects,
the device-flow poll interval, and a loopback listener that ignores forged callbacks."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from pystep import _http, _loopback, oauth
from pystep.errors import ProvisionerError

Route = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


def _serve(route: Route, tls: ssl.SSLContext | None = None) -> tuple[str, HTTPServer]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            status, headers, body = route(self)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _any

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scheme = "https" if tls else "http"
    return f"{scheme}://127.0.0.1:{server.server_address[1]}", server


@pytest.fixture
def servers() -> Iterator[list[HTTPServer]]:
    started: list[HTTPServer] = []
    yield started
    for s in started:
        s.shutdown()
        s.server_close()


def _json(obj: Any) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/json"}, json.dumps(obj).encode()


# -- endpoints -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["token_endpoint", "authorization_endpoint"])
def test_plain_http_endpoint_of_a_remote_host_is_refused(
    servers: list[HTTPServer], name: str
) -> None:
    doc = {"issuer": "x", "token_endpoint": "http://127.0.0.1:1/token",
           "authorization_endpoint": "http://127.0.0.1:1/auth"}  # fmt: skip
    doc[name] = "http://idp.example/leak"
    base, server = _serve(lambda req: _json(doc))
    servers.append(server)
    with pytest.raises(ProvisionerError) as err:
        oauth.discover(base)
    assert str(err.value) == (
        f"invalid '{name}' in provider metadata: http://idp.example/leak must be an https URL"
    )


def test_https_provider_endpoints_must_be_https() -> None:
    doc = {"token_endpoint": "http://127.0.0.1:8080/token"}
    with pytest.raises(ProvisionerError, match="must be an https URL"):
        oauth._endpoint(doc, "token_endpoint", "https://idp.example")
    assert oauth._endpoint(doc, "token_endpoint", "http://127.0.0.1:9") == doc["token_endpoint"]
    doc = {"token_endpoint": "https://idp.example:99999/token"}
    with pytest.raises(ProvisionerError, match="is not a valid URL"):
        oauth._endpoint(doc, "token_endpoint", "https://idp.example")


def test_optional_endpoint_over_plain_http_is_dropped(servers: list[HTTPServer]) -> None:
    doc = {"issuer": "x", "token_endpoint": "http://127.0.0.1:1/token",
           "authorization_endpoint": "http://127.0.0.1:1/auth",
           "device_authorization_endpoint": "http://idp.example/device"}  # fmt: skip
    base, server = _serve(lambda req: _json(doc))
    servers.append(server)
    assert oauth.discover(base).device_authorization_endpoint is None
    with pytest.raises(ProvisionerError, match="'device_authorization_endpoint'"):
        oauth.discover(base, device=True)


# -- redirects -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, Path]:
    from tests.harness.tls import write_loopback_tls

    cert_path, key_path = write_loopback_tls(tmp_path_factory.mktemp("tls"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return ctx, cert_path


def test_https_to_http_redirect_is_not_followed(
    servers: list[HTTPServer], tls: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls[1]))
    hits: list[str] = []

    def plain(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        hits.append(req.path)
        return _json({"issuer": "plain"})

    plain_base, s1 = _serve(plain)
    target = plain_base + "/.well-known/openid-configuration"

    def secure(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if req.path.startswith("/same"):
            return _json({"issuer": "secure"})
        if req.path.startswith("/up"):
            return 302, {"Location": "/same"}, b""
        return 302, {"Location": target}, b""

    base, s2 = _serve(secure, tls[0])
    servers += [s1, s2]
    assert _http.get(base + "/up").body == b'{"issuer": "secure"}'  # https → https: followed
    with pytest.raises(ProvisionerError) as err:
        oauth.discover(base)
    assert f"refusing the redirect to {target}" in str(err.value)
    assert hits == []


# -- device flow -----------------------------------------------------------------------


@pytest.mark.parametrize(("interval", "expires_in"), [(1e9, 30), (0.001, 5), ("x", 12)])
def test_device_flow_interval_is_clamped(
    servers: list[HTTPServer], interval: Any, expires_in: int
) -> None:
    def route(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        if req.path == "/device":
            return _json({"device_code": "d", "user_code": "u", "interval": interval,
                          "verification_uri": "https://idp.example/v",
                          "expires_in": expires_in})  # fmt: skip
        return 400, {}, b'{"error": "authorization_pending"}'

    base, server = _serve(route)
    servers.append(server)
    meta = oauth.ProviderMetadata("x", base + "/token", None, base + "/device")
    now = [1000.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    with pytest.raises(ProvisionerError, match="device authorization grant expired"):
        oauth.device_flow(meta, oauth.ClientConfig("c"), notify=lambda line: None,
                          sleep=sleep, clock=lambda: now[0])  # fmt: skip
    assert waits and all(0 <= w <= expires_in for w in waits)
    assert all(w >= 1.0 for w in waits[:-1])
    assert sum(waits) == pytest.approx(expires_in)


# -- loopback listener -----------------------------------------------------------------


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def test_forged_callbacks_do_not_end_the_flow() -> None:
    with _loopback.CallbackListener(None, "s3cret") as listener:
        base = listener.redirect_uri
        stalled = socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])))
        assert _get(base + "/?state=forged&code=evil") == 400
        assert _get(base + "/?error=access_denied") == 400
        assert _get(base + "/?code=evil") == 400
        assert _get(base + "/favicon.ico") == 404
        assert _get(base + "/?state=s3cret&code=good") == 200
        assert listener.wait(5) == "good"
        stalled.close()


def test_error_with_the_right_state_ends_the_flow() -> None:
    with _loopback.CallbackListener(None, "s3cret") as listener:
        assert _get(listener.redirect_uri + "/?state=s3cret&error=access_denied") == 400
        with pytest.raises(ProvisionerError) as err:
            listener.wait(5)
    assert str(err.value) == "error from the OpenID provider: access_denied"


def test_a_silent_connection_is_timed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_loopback, "HANDLER_TIMEOUT", 0.3)
    with _loopback.CallbackListener(None, "s") as listener:
        port = int(listener.redirect_uri.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.settimeout(5)
            start = time.monotonic()
            assert sock.recv(100) == b""  # closed by the listener
            assert time.monotonic() - start < 3
