"""A small client for the step-ca HTTP API, with TLS that trusts only the given root.

It speaks HTTP/1.1 itself (:mod:`pystep.ca.http11`) over one kept-alive connection (the
CA answers two or three requests per token; ``http.client`` would cost as much start-up
as a key derivation, ``urllib``/``httpx`` more than the whole exchange). Responses are
bounded in size; errors become :class:`CAError` with the CA's own message, as step prints
them.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from pystep import __version__, _json
from pystep.errors import CAError, InputError, UsageError

if TYPE_CHECKING:
    from pystep.ca.http11 import HTTPSConnection
    from pystep.provisioners.base import ProvisionerRecord

MAX_RESPONSE_BYTES = 8 << 20  # a provisioner page with many large keys still fits
MAX_PROVISIONER_PAGES = 1000
DEFAULT_TIMEOUT = 15.0
USER_AGENT = f"pystep/{__version__}"


def read_root_pem(path: str) -> bytes:
    """Read the root file for TLS trust: PEM with one or more certificates."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(4 << 20)
    except OSError as exc:
        raise InputError(f"error reading {path}: {exc.strerror or exc}") from None
    if b"-----BEGIN CERTIFICATE-----" not in data:
        raise InputError(f"error parsing {path}: no certificates found")
    return data


def pinned_context(root_pem: bytes, root_path: str = "root") -> ssl.SSLContext:
    """A TLS client context that trusts only ``root_pem`` (never the system store) and
    checks host names; TLS 1.2 at least, as step."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_verify_locations(cadata=root_pem.decode("ascii", "replace"))
    except ssl.SSLError as exc:
        raise InputError(f"error parsing {root_path}: {exc.reason or exc}") from None
    return ctx


class CAClient:
    """Talks to one CA at ``base_url`` (``https://host[:port]``)."""

    def __init__(
        self,
        base_url: str,
        root_path: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        user_agent: str = USER_AGENT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.root_path = root_path
        self.timeout = timeout
        self.user_agent = user_agent
        parts = urlsplit(self.base_url)
        if parts.scheme != "https" or not parts.hostname:
            raise InputError(f"invalid value '{base_url}' for flag '--ca-url'")
        self._host = parts.hostname
        try:
            port = parts.port
        except ValueError:  # not a number or out of 0-65535
            port = -1
        if port is not None and not 0 < port < 65536:
            raise UsageError(f"invalid value '{base_url}' for flag '--ca-url'; invalid port")
        self._port = port or 443
        self._ctx: ssl.SSLContext | None = None
        self._conn: HTTPSConnection | None = None
        self._requests = 0

    # -- transport ---------------------------------------------------------------------

    def _connection(self) -> HTTPSConnection:
        if self._conn is None:
            from pystep.ca.http11 import HTTPSConnection

            if self._ctx is None:
                self._ctx = pinned_context(read_root_pem(self.root_path), self.root_path)
            self._conn = HTTPSConnection(
                self._host,
                self._port,
                timeout=self.timeout,
                context=self._ctx,
                proxy=_proxy_for(self._host),
            )
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
            self._requests = 0

    def __enter__(self) -> CAClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; returns (status, decoded JSON or None). Never raises on an HTTP
        error status (see :meth:`call` for that); raises CAError when the CA is unreachable."""
        url = self.base_url + path
        hdrs = {
            "User-Agent": self.user_agent,
            "X-Request-Id": request_id(),
            "Accept": "application/json",
        }
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if headers:
            hdrs.update(headers)
        for attempt in (0, 1):
            conn = self._connection()
            try:
                resp = conn.request(method, path, payload, hdrs, limit=MAX_RESPONSE_BYTES)
                data = resp.body
                break
            except ssl.SSLCertVerificationError as exc:
                self.close()
                raise CAError(
                    f"client {method} {url} failed: tls: {exc.verify_message or exc.reason}",
                    hint=f"is {self.root_path} the root of this CA?",
                ) from None
            except OSError as exc:
                reused = self._requests > 0
                self.close()
                # A kept-alive connection the server closed meanwhile: retry once, fresh.
                if attempt == 0 and reused and isinstance(
                    exc, (ConnectionResetError, BrokenPipeError)
                ):
                    self._requests = 0
                    continue
                reason = exc.strerror or str(exc) or type(exc).__name__
                raise CAError(f"client {method} {url} failed: {reason}") from None
        self._requests += 1
        if len(data) > MAX_RESPONSE_BYTES:
            self.close()
            raise CAError(f"error reading {url}: response larger than {MAX_RESPONSE_BYTES} bytes")
        if resp.will_close:
            self.close()
        if not data:
            return resp.status, None
        try:
            return resp.status, _json.loads(data)
        except ValueError:
            return resp.status, data.decode("utf-8", "replace")

    def call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Like :meth:`request`, but an HTTP status >= 400 raises CAError with the CA's
        message, as step does."""
        status, data = self.request(method, path, body, headers)
        if status >= 400:
            if isinstance(data, dict) and isinstance(data.get("message"), str):
                raise CAError(data["message"], status=status)
            raise CAError(
                f"failed decoding CA error response: status {status}", status=status
            )
        return data

    # -- endpoints used by the token flow --------------------------------------------

    def provisioners(self) -> list[ProvisionerRecord]:
        """GET /provisioners with cursor pagination (limit=100), all pages."""
        from pystep.provisioners.base import ProvisionerRecord

        out: list[ProvisionerRecord] = []
        cursor = ""
        seen: set[str] = set()
        for _ in range(MAX_PROVISIONER_PAGES):
            query: dict[str, str] = {"limit": "100"}
            if cursor:
                query = {"cursor": cursor, "limit": "100"}
            path = "/provisioners?" + urlencode(query)
            data = self.call("GET", path)
            if not isinstance(data, dict) or not isinstance(data.get("provisioners"), list):
                raise CAError(f"error reading {self.base_url}{path}: unexpected response")
            for item in data["provisioners"]:
                if isinstance(item, dict):
                    out.append(ProvisionerRecord(item))
            cursor = data.get("nextCursor") or ""
            if not isinstance(cursor, str) or not cursor:
                return out
            if cursor in seen:
                raise CAError(f"error reading {self.base_url}/provisioners: cursor loop")
            seen.add(cursor)
        raise CAError(f"error reading {self.base_url}/provisioners: too many pages")

    def encrypted_key(self, kid: str) -> str:
        """GET /provisioners/<kid>/encrypted-key → the compact JWE."""
        data = self.call("GET", f"/provisioners/{quote(kid, safe='')}/encrypted-key")
        if not isinstance(data, dict) or not isinstance(data.get("key"), str):
            raise CAError(f"error reading {self.base_url}/provisioners/{kid}/encrypted-key")
        key: str = data["key"]
        return key

    def sign(
        self, csr_pem: str, ott: str, extra: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """POST /1.0/sign: exchange a token and CSR for a certificate."""
        body: dict[str, Any] = {"csr": csr_pem, "ott": ott}
        if extra:
            body.update(extra)
        data = self.call("POST", "/1.0/sign", body)
        if not isinstance(data, dict):
            raise CAError("unexpected response from /1.0/sign")
        return data


def request_id() -> str:
    """A random (version 4) UUID for X-Request-Id, without importing :mod:`uuid`."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _proxy_for(host: str) -> tuple[str, int] | None:
    """HTTPS_PROXY/https_proxy honouring NO_PROXY, as step's Go client does."""
    proxy = os.environ.get("https_proxy") or os.environ.get("HTTPS_PROXY")
    if not proxy:
        return None
    import urllib.request

    if urllib.request.proxy_bypass(host):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    parts = urlsplit(proxy)
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or 80
