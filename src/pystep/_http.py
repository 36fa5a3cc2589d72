"""A tiny HTTP client on the standard library, for the few plain requests pystep makes.

Only ``urllib`` is used (import cost matters for the CLI). Every call has a timeout and a
bound on the body size; any HTTP status comes back as an :class:`HTTPResponse` (4xx/5xx are
answers, not exceptions); only transport failures raise :class:`HTTPTransportError`, whose
``reason`` lets callers word a message the user can act on. Loopback and link-local hosts
(metadata services, test servers) never go through an ``http_proxy`` from the environment.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pystep import _json

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 1 << 20  # 1 MiB: metadata documents and tokens are far smaller


class HTTPTransportError(OSError):
    """The request got no HTTP answer. ``reason`` is one of ``refused``, ``timeout``,
    ``dns``, ``too-large`` or ``other``; ``str()`` is a short description."""

    def __init__(self, url: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.url = url
        self.reason = reason
        self.detail = detail

    def __str__(self) -> str:
        return self.detail


@dataclass(frozen=True)
class HTTPResponse:
    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status < 400

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not JSON."""
        return _json.loads(self.body.decode("utf-8"))


def _direct_host(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return ip.is_loopback or ip.is_link_local


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _NoDowngrade(urllib.request.HTTPRedirectHandler):
    """Follows redirects, except from https to anything else (a secret or a document
    that must be authentic would then travel in the clear)."""

    def redirect_request(
        self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        old = req.full_url
        if old.lower().startswith("https:") and not newurl.lower().startswith("https:"):
            raise HTTPTransportError(
                old, "other", f"request to {old} failed: refusing the redirect to {newurl}"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(url: str, follow_redirects: bool) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = []
    if _direct_host(url):
        handlers.append(urllib.request.ProxyHandler({}))
    handlers.append(_NoDowngrade() if follow_redirects else _NoRedirect())
    return urllib.request.build_opener(*handlers)


def _read_bounded(resp: Any, url: str, max_bytes: int) -> bytes:
    body = resp.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise HTTPTransportError(url, "too-large", f"response from {url} exceeds {max_bytes} bytes")
    return bytes(body)


def _classify(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError | socket.timeout):
            return "timeout"
        if isinstance(seen, ConnectionRefusedError):
            return "refused"
        if isinstance(seen, socket.gaierror):
            return "dns"
        nxt = getattr(seen, "reason", None)
        seen = nxt if isinstance(nxt, BaseException) else seen.__cause__
    return "other"


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    data: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
    follow_redirects: bool = True,
) -> HTTPResponse:
    """Send one request and return the answer, whatever its status."""
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    try:
        with _opener(url, follow_redirects).open(req, timeout=timeout) as resp:
            body = _read_bounded(resp, url, max_bytes)
            return HTTPResponse(resp.status, body, dict(resp.headers.items()))
    except urllib.error.HTTPError as err:
        try:
            body = _read_bounded(err, url, max_bytes)
        finally:
            err.close()
        return HTTPResponse(err.code, body, dict(err.headers.items()) if err.headers else {})
    except HTTPTransportError:
        raise
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = _classify(exc)
        detail = {
            "timeout": f"request to {url} timed out after {timeout:g}s",
            "refused": f"connection to {url} refused",
            "dns": f"cannot resolve the host of {url}",
        }.get(reason, f"request to {url} failed: {getattr(exc, 'reason', exc)}")
        raise HTTPTransportError(url, reason, detail) from exc


def get(url: str, **kwargs: Any) -> HTTPResponse:
    return request("GET", url, **kwargs)


def get_json(url: str, *, headers: Mapping[str, str] | None = None, **kwargs: Any) -> HTTPResponse:
    """GET with ``Accept: application/json``; decode with ``.json()``."""
    hdrs = {"Accept": "application/json", **(headers or {})}
    return request("GET", url, headers=hdrs, **kwargs)


def post_json(
    url: str, payload: Any, *, headers: Mapping[str, str] | None = None, **kwargs: Any
) -> HTTPResponse:
    hdrs = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    data = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return request("POST", url, headers=hdrs, data=data, **kwargs)


def post_form(
    url: str,
    fields: Mapping[str, str] | list[tuple[str, str]],
    *,
    headers: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> HTTPResponse:
    """POST ``application/x-www-form-urlencoded`` (as OAuth token endpoints expect)."""
    hdrs = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Accept": "application/json",
        **(headers or {}),
    }
    data = urllib.parse.urlencode(fields).encode("ascii")
    return request("POST", url, headers=hdrs, data=data, **kwargs)
