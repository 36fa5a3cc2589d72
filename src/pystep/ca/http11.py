"""A minimal HTTP/1.1 client connection over TLS, for the CA client's few JSON requests.

``http.client`` costs about 15 ms of start-up (it imports the ``email`` package to parse
headers), which is as much as the key derivation of a p2c 100000 token; the CA client
needs only this much of it: one kept-alive TLS connection (optionally tunnelled through
an HTTPS proxy with CONNECT), requests with a ``Content-Length`` body, and responses
framed by ``Content-Length``, ``chunked`` or the end of the connection.

It behaves as ``http.client`` does where the CA client can tell: the same request line
and headers (``Host``, ``Accept-Encoding: identity``), the same socket errors, a server
that closed a kept-alive connection is a :class:`ConnectionResetError` ("Remote end closed
connection without response"), and a proxy that refuses the tunnel an :class:`OSError`
("Tunnel connection failed: 407 Proxy Authentication Required"). A malformed response is
a :class:`ProtocolError` (an OSError) instead of ``http.client``'s ``HTTPException``.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Mapping
from typing import BinaryIO

MAX_LINE = 65536
MAX_HEADERS = 100
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"})


class ProtocolError(OSError):
    """The peer did not speak HTTP/1.x as expected."""


class Response:
    """A complete response: status, headers (names lower-cased) and body."""

    __slots__ = ("body", "headers", "status", "will_close")

    def __init__(
        self, status: int, headers: dict[str, str], body: bytes, will_close: bool
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.will_close = will_close

    def getheader(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


def _idna(host: str) -> str:
    """The ASCII form of ``host`` (IDNA for a non-ASCII name); OSError when the IDNA
    codec refuses it (an empty label or one longer than 63 characters)."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise OSError(f"invalid host name '{host}'") from None


def _host_header(host: str, port: int) -> str:
    host = _idna(host)
    if ":" in host:  # IPv6 literal, without a zone
        host = "[" + host.split("%", 1)[0] + "]"
    return host if port == 443 else f"{host}:{port}"


def _ascii_name(host: str) -> bytes:
    """The host as ASCII bytes: ``socket`` and ``ssl`` then skip the IDNA codec (whose
    import, with ``unicodedata``, costs more than the rest of this module)."""
    return _idna(host).encode("ascii")


def _read_line(fp: BinaryIO, what: str) -> bytes:
    line = fp.readline(MAX_LINE + 1)
    if len(line) > MAX_LINE:
        raise ProtocolError(f"got more than {MAX_LINE} bytes when reading {what}")
    return line


def _read_status(fp: BinaryIO) -> tuple[str, int, str]:
    line = _read_line(fp, "status line").decode("iso-8859-1")
    if not line:
        raise ConnectionResetError("Remote end closed connection without response")
    parts = line.split(None, 2)
    version = parts[0] if parts else ""
    if not version.startswith("HTTP/") or len(parts) < 2 or not parts[1].isdigit():
        raise ProtocolError(f"malformed HTTP status line: {line.strip()!r}")
    status = int(parts[1])
    if not 100 <= status <= 999:
        raise ProtocolError(f"malformed HTTP status line: {line.strip()!r}")
    return version, status, parts[2] if len(parts) > 2 else ""


def _read_headers(fp: BinaryIO) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADERS + 1):
        line = _read_line(fp, "a header line")
        if line in (b"\r\n", b"\n", b""):
            return headers
        name, sep, value = line.decode("iso-8859-1").partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    raise ProtocolError(f"got more than {MAX_HEADERS} headers")


_HEX = frozenset(b"0123456789abcdefABCDEF")
MAX_CHUNK_SIZE_DIGITS = 16


def _chunk_size(line: bytes) -> int:
    text = line.split(b";", 1)[0].strip()
    if not text or len(text) > MAX_CHUNK_SIZE_DIGITS or not set(text) <= _HEX:
        raise ProtocolError("malformed chunked response: bad chunk size")
    return int(text, 16)


def _read_chunked(fp: BinaryIO, limit: int) -> bytes:
    """The de-chunked body; stops after ``limit`` + 1 bytes (the caller refuses it)."""
    out = bytearray()
    while True:
        size = _chunk_size(_read_line(fp, "a chunk size"))
        if size == 0:
            _read_headers(fp)  # trailers
            return bytes(out)
        want = min(size, limit + 1 - len(out))
        chunk = fp.read(want)
        if len(chunk) < want:
            raise ProtocolError("incomplete chunked response")
        out += chunk
        if len(out) > limit:
            return bytes(out)
        if fp.read(2) != b"\r\n":
            raise ProtocolError("malformed chunked response: no CRLF after a chunk")


class HTTPSConnection:
    """One TLS connection to ``host:port`` (through the ``proxy`` ``(host, port)`` with
    CONNECT when given), opened on the first request and kept alive between requests."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        timeout: float,
        context: ssl.SSLContext,
        proxy: tuple[str, int] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.context = context
        self.proxy = proxy
        self._sock: socket.socket | None = None
        self._fp: BinaryIO | None = None

    def _connect(self) -> BinaryIO:
        host, port = self.proxy or (self.host, self.port)
        name = _ascii_name(host)
        server_name = _ascii_name(self.host)  # refused before anything is sent
        # typeshed wants str; getaddrinfo takes bytes too (and skips the IDNA codec).
        sock = socket.create_connection((name, port), self.timeout)  # type: ignore[arg-type]
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.proxy is not None:
                self._tunnel(sock)
            tls = self.context.wrap_socket(sock, server_hostname=server_name)
        except BaseException:
            sock.close()
            raise
        self._sock = tls
        self._fp = tls.makefile("rb")
        return self._fp

    def _tunnel(self, sock: socket.socket) -> None:
        sock.sendall(b"CONNECT %s:%d HTTP/1.0\r\n\r\n" % (_ascii_name(self.host), self.port))
        fp = sock.makefile("rb")
        try:
            _, status, reason = _read_status(fp)
            if status != 200:
                raise OSError(f"Tunnel connection failed: {status} {reason.strip()}")
            _read_headers(fp)
        finally:
            fp.close()

    def close(self) -> None:
        fp, sock = self._fp, self._sock
        self._fp = self._sock = None
        if fp is not None:
            fp.close()
        if sock is not None:
            sock.close()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: Mapping[str, str],
        *,
        limit: int,
    ) -> Response:
        """Send one request and read the whole response (at most ``limit`` + 1 body bytes;
        more means the caller should give up on the connection)."""
        fp = self._fp if self._fp is not None else self._connect()
        assert self._sock is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {_host_header(self.host, self.port)}",
                 "Accept-Encoding: identity"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None or method not in _NO_BODY_METHODS:
            lines.append(f"Content-Length: {len(body or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._sock.sendall(head + body if body else head)

        version, status, _ = _read_status(fp)
        while status == 100:
            _read_headers(fp)
            version, status, _ = _read_status(fp)
        hdrs = _read_headers(fp)
        conn = hdrs.get("connection", "").lower()
        will_close = "close" in conn or (version == "HTTP/1.0" and "keep-alive" not in conn)
        if method == "HEAD" or status in (204, 304) or status < 200:
            data = b""
        elif "chunked" in hdrs.get("transfer-encoding", "").lower():
            data = _read_chunked(fp, limit)
        elif hdrs.get("content-length", "").strip().isdigit():
            length = int(hdrs["content-length"])
            data = fp.read(min(length, limit + 1))
            will_close = will_close or len(data) < length
        else:
            data = fp.read(limit + 1)
            will_close = True
        return Response(status, hdrs, data, will_close)
