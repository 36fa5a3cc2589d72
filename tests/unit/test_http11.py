"""The CA client's own HTTP/1.1 (pystep.ca.http11) against scripted TLS servers: framing
(Content-Length, chunked, close-delimited), keep-alive, a server that drops a kept-alive
connection, CONNECT proxies, and the X-Request-Id format."""

from __future__ import annotations

import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pystep.ca.client import CAClient, request_id
from pystep.errors import CAError, UsageError
from tests.harness.tls import write_loopback_tls

Handler = Callable[[socket.socket, bytes], bool]
"""Gets the TLS socket and one request's head+body; returns False to close."""


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_loopback_tls(tmp_path_factory.mktemp("tls"))


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            while len(body) < int(line.split(b":")[1]):
                body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


class Server:
    """Accepts TLS connections on 127.0.0.1 and answers each request with ``handler``."""

    def __init__(self, tls: tuple[Path, Path], handler: Handler) -> None:
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*tls)
        self.handler = handler
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._conn, args=(raw,), daemon=True).start()

    def _conn(self, raw: socket.socket) -> None:
        try:
            with self.ctx.wrap_socket(raw, server_side=True) as sock:
                while True:
                    req = _read_request(sock)
                    if not req:
                        return
                    self.requests.append(req)
                    if not self.handler(sock, req):
                        return
        except (OSError, ssl.SSLError):
            return

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve(tls_files: tuple[Path, Path]) -> Iterator[Callable[[Handler], Server]]:
    servers: list[Server] = []

    def start(handler: Handler) -> Server:
        servers.append(Server(tls_files, handler))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _client(server: Server, tls_files: tuple[Path, Path]) -> CAClient:
    return CAClient(f"https://127.0.0.1:{server.port}", str(tls_files[0]))


def _answer(body: bytes, extra: str = "") -> Handler:
    def handler(sock: socket.socket, req: bytes) -> bool:
        sock.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        return True

    return handler


def test_keep_alive_and_request_headers(serve, tls_files) -> None:  # type: ignore[no-untyped-def]
    server = serve(_answer(b'{"ok": true}'))
    with _client(server, tls_files) as client:
        assert client.request("GET", "/a") == (200, {"ok": True})
        assert client.request("POST", "/b", {"x": 1}) == (200, {"ok": True})
    assert server.connections == 1
    get, post = server.requests
    head = get.split(b"\r\n")
    assert head[0] == b"GET /a HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in head
    assert b"Accept-Encoding: identity" in head
    assert not any(h.lower().startswith(b"content-length") for h in head)
    assert post.startswith(b"POST /b HTTP/1.1\r\n")
    assert b"Content-Length: 8\r\n" in post and post.endswith(b'{"x": 1}')
    assert b"Content-Type: application/json" in post


def test_chunked_response(serve, tls_files) -> None:  # type: ignore[no-untyped-def]
    def handler(sock: socket.socket, req: bytes) -> bool:
        sock.sendall(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"b;ext=1\r\n{\"message\":\r\n8\r\n\"nope!\"}\r\n0\r\nX-Trailer: 1\r\n\r\n")
        return True

    server = serve(handler)
    with _client(server, tls_files) as client:
        assert client.request("GET", "/x") == (404, {"message": "nope!"})
        with pytest.raises(CAError, match=r"^nope!$"):
            client.call("GET", "/x")
    assert server.connections == 1


def test_close_delimited_response(serve, tls_files) -> None:  # type: ignore[no-untyped-def]
    def handler(sock: socket.socket, req: bytes) -> bool:
        sock.sendall(b"HTTP/1.0 200 OK\r\n\r\n[1, 2]")
        return False

    server = serve(handler)
    with _client(server, tls_files) as client:
        assert client.request("GET", "/x") == (200, [1, 2])
        assert client.request("GET", "/y") == (200, [1, 2])
    assert server.connections == 2


def test_connection_close_header_reconnects(serve, tls_files) -> None:  # type: ignore[no-untyped-def]
    server = serve(_answer(b"{}", "Connection: close\r\n"))
    with _client(server, tls_files) as client:
        client.request("GET", "/a")
        client.request("GET", "/b")
    assert server.connections == 2


def test_dropped_keep_alive_is_retried_once(serve, tls_files) -> None:  # type: ignore[no-untyped-def]
    answered: list[int] = []

    def handler(sock: socket.socket, req: bytes) -> bool:
        if len(answered) == 1:  # the second request: close without a response
            answered.append(0)
            return False
        answered.append(1)
        return _answer(b'"fine"')(sock, req)

    server = serve(handler)
    with _client(server, tls_files) as client:
        assert client.request("GET", "/a") == (200, "fine")
        assert client.request("GET", "/b") == (200, "fine")
    assert server.connections == 2 and answered == [1, 0, 1]


def test_fresh_connection_dropped_is_an_error(serve, tls_files) -> None:  # type: ignore[no-untyped-def]
    server = serve(lambda sock, req: False)
    with _client(server, tls_files) as client, pytest.raises(CAError) as err:
        client.request("GET", "/a")
    assert str(err.value) == (
        f"client GET https://127.0.0.1:{server.port}/a failed: "
        "Remote end closed connection without response"
    )


def test_response_too_large(serve, tls_files, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("pystep.ca.client.MAX_RESPONSE_BYTES", 10)
    server = serve(_answer(b'"' + b"a" * 20 + b'"'))
    with _client(server, tls_files) as client, pytest.raises(CAError, match="larger than 10"):
        client.request("GET", "/a")


def test_wrong_root_is_a_tls_error(serve, tls_files, tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = Path(__file__).parents[1] / "fixtures" / "step-v0.19" / "pki" / "root_ca.crt"
    root = other
    server = serve(_answer(b"{}"))
    client = CAClient(f"https://127.0.0.1:{server.port}", str(root))
    with client, pytest.raises(CAError, match="failed: tls: "):
        client.request("GET", "/a")


def _proxy(
    target_port: int, status: bytes = b"200 Connection established"
) -> tuple[int, list[bytes]]:
    """A CONNECT proxy (plain TCP) that relays to 127.0.0.1:target_port."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[bytes] = []

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            b.close()

    def serve_one() -> None:
        conn, _ = listener.accept()
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(4096)
        seen.append(head)
        if not status.startswith(b"200"):
            conn.sendall(b"HTTP/1.0 " + status + b"\r\n\r\n")
            conn.close()
            return
        upstream = socket.create_connection(("127.0.0.1", target_port))
        conn.sendall(b"HTTP/1.0 " + status + b"\r\nProxy-Agent: test\r\n\r\n")
        threading.Thread(target=pipe, args=(conn, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, conn), daemon=True).start()

    threading.Thread(target=serve_one, daemon=True).start()
    return listener.getsockname()[1], seen


def test_https_proxy_connect(serve, tls_files, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server = serve(_answer(b'{"via": "proxy"}'))
    port, seen = _proxy(server.port)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with _client(server, tls_files) as client:
        assert client.request("GET", "/a") == (200, {"via": "proxy"})
        assert client.request("GET", "/b") == (200, {"via": "proxy"})
    assert seen == [f"CONNECT 127.0.0.1:{server.port} HTTP/1.0\r\n\r\n".encode()]
    assert f"Host: 127.0.0.1:{server.port}".encode() in server.requests[0]


def test_https_proxy_refuses(serve, tls_files, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server = serve(_answer(b"{}"))
    port, _ = _proxy(server.port, b"407 Proxy Authentication Required")
    monkeypatch.setenv("HTTPS_PROXY", f"127.0.0.1:{port}")
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with _client(server, tls_files) as client, pytest.raises(CAError) as err:
        client.request("GET", "/a")
    assert str(err.value) == (
        f"client GET https://127.0.0.1:{server.port}/a failed: "
        "Tunnel connection failed: 407 Proxy Authentication Required"
    )


def test_request_id_is_a_uuid4() -> None:
    ids = {request_id() for _ in range(50)}
    assert len(ids) == 50
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def _pages(pages: dict[str, dict[str, object]]) -> Handler:
    """Answer GET /provisioners?… from ``pages`` keyed by the query string."""
    import json

    def handler(sock: socket.socket, req: bytes) -> bool:
        target = req.split(b" ", 2)[1].decode()
        query = target.partition("?")[2]
        body = json.dumps(pages.get(query, {"status": 404, "message": "nope"})).encode()
        status = "200 OK" if query in pages else "404 Not Found"
        sock.sendall(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        )
        return True

    return handler


def test_provisioner_pages_follow_the_cursor(serve, tls_files) -> None:  # type: ignore[no-untyped-def]
    server = serve(_pages({
        "limit=100": {"provisioners": [{"type": "JWK", "name": "a"}], "nextCursor": "c1"},
        "cursor=c1&limit=100": {"provisioners": [{"type": "X5C", "name": "b"}],
                                "nextCursor": "c2"},
        "cursor=c2&limit=100": {"provisioners": [{"type": "OIDC", "name": "c"}],
                                "nextCursor": ""},
    }))
    with _client(server, tls_files) as client:
        names = [p.name for p in client.provisioners()]
    assert names == ["a", "b", "c"]
    # step's queries: no cursor first, then cursor before limit; one kept-alive connection.
    targets = [r.split(b" ", 2)[1] for r in server.requests]
    assert targets == [b"/provisioners?limit=100", b"/provisioners?cursor=c1&limit=100",
                       b"/provisioners?cursor=c2&limit=100"]
    assert server.connections == 1


def test_provisioner_cursor_loop_is_refused(serve, tls_files) -> None:  # type: ignore[no-untyped-def]
    server = serve(_pages({
        "limit=100": {"provisioners": [], "nextCursor": "x"},
        "cursor=x&limit=100": {"provisioners": [], "nextCursor": "x"},
    }))
    with pytest.raises(CAError, match="cursor loop"), _client(server, tls_files) as client:
        client.provisioners()


def test_ca_error_message_is_passed_through(serve, tls_files) -> None:  # type: ignore[no-untyped-def]
    server = serve(_pages({}))
    with pytest.raises(CAError, match=r"^nope$") as err, _client(server, tls_files) as client:
        client.provisioners()
    assert err.value.status == 404


def _chunked(body: bytes, close: bool = True) -> Handler:
    def handler(sock: socket.socket, req: bytes) -> bool:
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        return not close

    return handler


@pytest.mark.parametrize(
    "body",
    [
        b"-1\r\n" + b"x" * 100,  # a negative size used to read to EOF
        b"ffffffffffffffff\r\nxx",  # used to raise OverflowError
        b"10000000000000000\r\nxx",  # 17 digits
        b"0x2\r\nab\r\n0\r\n\r\n",
        b"1_0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n",
        b" \r\n",
        b"zz\r\n",
        b"2\r\nabXY3\r\ncde\r\n0\r\n\r\n",  # no CRLF after a chunk
        b"5\r\nab",  # cut short
    ],
)
def test_malformed_chunked_is_a_protocol_error(serve, tls_files, body) -> None:  # type: ignore[no-untyped-def]
    server = serve(_chunked(body))
    with _client(server, tls_files) as client, pytest.raises(CAError) as err:
        client.request("GET", "/a")
    assert str(err.value).startswith(f"client GET https://127.0.0.1:{server.port}/a failed: ")
    assert "chunked response" in str(err.value)


def test_huge_chunk_reads_only_up_to_the_limit(serve, tls_files, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("pystep.ca.client.MAX_RESPONSE_BYTES", 10)
    # Announces 4 GiB but sends 50 bytes and keeps the connection open: reading the
    # announced size would wait for the timeout; the limit stops the read at 11 bytes.
    server = serve(_chunked(b"100000000\r\n" + b"a" * 50, close=False))
    with _client(server, tls_files) as client, pytest.raises(CAError, match="larger than 10"):
        client.request("GET", "/a")


def test_deeply_nested_json_body(serve, tls_files) -> None:  # type: ignore[no-untyped-def]
    deep = b"[" * 100_000

    def handler(sock: socket.socket, req: bytes) -> bool:
        status = b"200 OK" if req.startswith(b"GET /ok ") else b"404 Not Found"
        sock.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n\r\n" % len(deep) + deep)
        return True

    server = serve(handler)
    with _client(server, tls_files) as client:
        assert client.request("GET", "/ok") == (200, deep.decode())
        with pytest.raises(CAError, match=r"^failed decoding CA error response: status 404$"):
            client.call("GET", "/x")


@pytest.mark.parametrize("port", ["99999", "65536", "0", "1x"])
def test_invalid_port_is_a_usage_error(tls_files, port) -> None:  # type: ignore[no-untyped-def]
    url = f"https://127.0.0.1:{port}"
    with pytest.raises(UsageError) as err:
        CAClient(url, str(tls_files[0]))
    assert str(err.value) == f"invalid value '{url}' for flag '--ca-url'; invalid port"


def test_invalid_port_on_the_command_line(run_pystep) -> None:  # type: ignore[no-untyped-def]
    fix = Path(__file__).parents[1] / "fixtures" / "step-v0.19"
    run = run_pystep("ca", "token", "sub", "--ca-url", "https://127.0.0.1:99999", "--root",
                     str(fix / "pki" / "root_ca.crt"), "--provisioner", "admin",
                     "--password-file", str(fix / "password.txt"),
                     env={"STEP_NON_INTERACTIVE": "1"})  # fmt: skip
    assert run.returncode == 1
    assert run.stderr == (
        "invalid value 'https://127.0.0.1:99999' for flag '--ca-url'; invalid port\n"
    )


def test_idna_label_too_long_is_a_ca_error(tls_files) -> None:  # type: ignore[no-untyped-def]
    url = "https://" + "é" * 64 + ".example"
    with CAClient(url, str(tls_files[0])) as client, pytest.raises(CAError) as err:
        client.request("GET", "/a")
    assert str(err.value) == f"client GET {url}/a failed: invalid host name '{'é' * 64}.example'"


def test_non_ascii_host_through_a_proxy(serve, tls_files, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    server = serve(_answer(b"{}"))
    port, seen = _proxy(server.port)
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = CAClient("https://bücher.example", str(tls_files[0]))
    with client, pytest.raises(CAError, match=r"failed: tls: "):  # the cert names 127.0.0.1
        client.request("GET", "/a")
    assert seen == [b"CONNECT xn--bcher-kva.example:443 HTTP/1.0\r\n\r\n"]
