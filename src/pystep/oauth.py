"""OpenID Connect sign-in, in-process: what ``step oauth --oidc --bare`` does for step.

Two flows end in the provider's ``id_token``:

* :func:`loopback_flow` — authorization code with PKCE S256 through the user's browser and a
  one-shot listener on 127.0.0.1 (:mod:`pystep._loopback`);
* :func:`device_flow` — RFC 8628 device authorization (``--console``): the user visits a
  URL on any device and types a code while we poll the token endpoint.

Nothing here prints: user-facing lines go through a ``notify`` callback, and the browser
is opened through an ``open_browser`` callback, so a CLI, a GUI or a test can supply its own.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import string
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pystep import _http
from pystep.errors import InputError, ProvisionerError

Notify = Callable[[str], None]
OpenBrowser = Callable[[str], object]

WELL_KNOWN = "/.well-known/openid-configuration"
DEFAULT_SCOPE = "openid email"
LOOPBACK_TIMEOUT = 120.0  # step's 2 minutes
DEVICE_MAX_WAIT = 300.0  # step gives up after min(expires_in, 5 min)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_ALNUM = string.ascii_letters + string.digits
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def random_alnum(n: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge): a 64-character alphanumeric verifier, as step makes."""
    verifier = random_alnum(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class ProviderMetadata:
    """The parts of the discovery document a client needs."""

    issuer: str
    token_endpoint: str
    authorization_endpoint: str | None = None
    device_authorization_endpoint: str | None = None


@dataclass(frozen=True)
class ClientConfig:
    """The OAuth client as the provisioner describes it (``clientID``, ``scopes``…)."""

    client_id: str
    client_secret: str = ""
    scopes: tuple[str, ...] = ()
    auth_params: tuple[tuple[str, str], ...] = ()

    @property
    def scope(self) -> str:
        return " ".join(self.scopes) if self.scopes else DEFAULT_SCOPE


def parse_auth_params(items: Iterable[str]) -> tuple[tuple[str, str], ...]:
    """``k=v`` items split at the first ``=`` (no ``=`` → empty value; empty key → error)."""
    out: list[tuple[str, str]] = []
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise InputError(f"invalid value '{item}' for flag '--auth-param'")
        out.append((key, value))
    return tuple(out)


def discovery_url(configuration_endpoint: str) -> str:
    """The discovery URL: the well-known path is appended when the path lacks it."""
    parts = urllib.parse.urlsplit(configuration_endpoint)
    if WELL_KNOWN in parts.path:
        return configuration_endpoint
    path = parts.path.rstrip("/") + WELL_KNOWN
    return urllib.parse.urlunsplit(parts._replace(path=path))


def _url_problem(url: str, *, allow_http: bool) -> str | None:
    """Why ``url`` cannot be used for a provider or one of its endpoints, or None.
    Plain http only for loopback hosts, and only where ``allow_http``."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "is not a valid URL"
    if parts.scheme == "https" and parts.hostname:
        return None
    # step only takes https providers; plain http is allowed here for loopback providers
    # (local IdPs and tests), where TLS protects nothing.
    if allow_http and parts.scheme == "http" and (parts.hostname or "") in _LOOPBACK_HOSTS:
        return None
    return "must be an https URL"


def _check_provider_url(url: str) -> None:
    problem = _url_problem(url, allow_http=True)
    if problem:
        raise InputError(f"use a valid provider: {url} {problem}")


def _endpoint(doc: Mapping[str, Any], name: str, provider: str) -> str:
    """The endpoint ``name`` of the discovery document: an https URL (plain http on
    loopback only when the provider itself is plain-http loopback)."""
    value = doc.get(name)
    if not isinstance(value, str) or not value:
        raise ProvisionerError(f"missing or invalid '{name}' in provider metadata")
    problem = _url_problem(value, allow_http=provider.lower().startswith("http:"))
    if problem:
        raise ProvisionerError(f"invalid '{name}' in provider metadata: {value} {problem}")
    return value


def _optional_endpoint(doc: Mapping[str, Any], name: str, provider: str) -> str | None:
    try:
        return _endpoint(doc, name, provider)
    except ProvisionerError:
        return None


def discover(
    configuration_endpoint: str, *, device: bool = False, timeout: float = 10.0
) -> ProviderMetadata:
    """Fetch and check the provider's OpenID configuration."""
    _check_provider_url(configuration_endpoint)
    url = discovery_url(configuration_endpoint)
    try:
        resp = _http.get_json(url, timeout=timeout)
    except _http.HTTPTransportError as exc:
        raise ProvisionerError(f"error retrieving {url}: {exc}") from exc
    if not resp.ok:
        raise ProvisionerError(f"error retrieving {url}: status {resp.status}")
    try:
        doc = resp.json()
    except ValueError as exc:
        raise ProvisionerError(f"error parsing {url}: not a JSON document") from exc
    if not isinstance(doc, dict):
        raise ProvisionerError(f"error parsing {url}: not a JSON object")
    base = configuration_endpoint
    auth: str | None
    dev: str | None
    if device:
        dev = _endpoint(doc, "device_authorization_endpoint", base)
        auth = _optional_endpoint(doc, "authorization_endpoint", base)
    else:
        auth = _endpoint(doc, "authorization_endpoint", base)
        dev = _optional_endpoint(doc, "device_authorization_endpoint", base)
    return ProviderMetadata(
        issuer=str(doc.get("issuer", "")),
        token_endpoint=_endpoint(doc, "token_endpoint", base),
        authorization_endpoint=auth,
        device_authorization_endpoint=dev,
    )


def idp_error(body: Any) -> str | None:
    """``"<error>: <error_description>"`` from an OAuth error body, else None."""
    if not isinstance(body, dict) or not body.get("error"):
        return None
    desc = body.get("error_description")
    return f"{body['error']}: {desc}" if desc else str(body["error"])


def _json_or_none(resp: _http.HTTPResponse) -> Any:
    try:
        return resp.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _post(url: str, fields: list[tuple[str, str]], what: str) -> _http.HTTPResponse:
    try:
        return _http.post_form(url, fields, timeout=30.0)
    except _http.HTTPTransportError as exc:
        raise ProvisionerError(f"error {what}: {exc}") from exc


def id_token_from(resp: _http.HTTPResponse) -> str:
    """The ``id_token`` of a token endpoint answer, or the IdP's error words."""
    body = _json_or_none(resp)
    err = idp_error(body)
    if err:
        raise ProvisionerError(f"error from the OpenID provider: {err}")
    if not resp.ok:
        raise ProvisionerError(f"error from the OpenID provider: status {resp.status}")
    token = body.get("id_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        raise ProvisionerError("the OpenID provider returned no id_token")
    return token


def authorization_url(
    meta: ProviderMetadata, cfg: ClientConfig, *, redirect_uri: str, state: str, nonce: str,
    challenge: str,
) -> str:
    if not meta.authorization_endpoint:
        raise ProvisionerError("missing or invalid 'authorization_endpoint' in provider metadata")
    query = {
        "client_id": cfg.client_id,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "nonce": nonce,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": cfg.scope,
        "state": state,
    }
    for key, value in cfg.auth_params:
        query[key] = value
    sep = "&" if "?" in meta.authorization_endpoint else "?"
    encoded = urllib.parse.urlencode(sorted(query.items()), quote_via=urllib.parse.quote)
    return f"{meta.authorization_endpoint}{sep}{encoded}"


def exchange_code(
    meta: ProviderMetadata, cfg: ClientConfig, *, code: str, redirect_uri: str, verifier: str
) -> str:
    fields = [
        ("code", code),
        ("client_id", cfg.client_id),
        ("client_secret", cfg.client_secret),
        ("redirect_uri", redirect_uri),
        ("grant_type", "authorization_code"),
        ("code_verifier", verifier),
    ]
    return id_token_from(_post(meta.token_endpoint, fields, "exchanging the authorization code"))


def loopback_flow(
    meta: ProviderMetadata,
    cfg: ClientConfig,
    *,
    notify: Notify,
    open_browser: OpenBrowser | None,
    listen: str | None = None,
    timeout: float = LOOPBACK_TIMEOUT,
) -> str:
    """Authorization code + PKCE through the browser; returns the ``id_token``."""
    from pystep._loopback import CallbackListener

    verifier, challenge = pkce_pair()
    state = random_alnum(32)
    nonce = secrets.token_hex(32)
    with CallbackListener(listen, state) as listener:
        url = authorization_url(
            meta, cfg, redirect_uri=listener.redirect_uri, state=state, nonce=nonce,
            challenge=challenge,
        )
        opened = bool(open_browser(url)) if open_browser is not None else False
        if opened:
            notify(f"Your default web browser has been opened to visit:\n\n{url}\n")
        else:
            notify(f"Visit the following URL:\n\n{url}\n")
        code = listener.wait(timeout)
        redirect_uri = listener.redirect_uri
    return exchange_code(meta, cfg, code=code, redirect_uri=redirect_uri, verifier=verifier)


def device_flow(
    meta: ProviderMetadata,
    cfg: ClientConfig,
    *,
    notify: Notify,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """RFC 8628 device authorization grant; returns the ``id_token``."""
    if not meta.device_authorization_endpoint:
        raise ProvisionerError(
            "missing or invalid 'device_authorization_endpoint' in provider metadata"
        )
    start = [("client_id", cfg.client_id), ("client_secret", cfg.client_secret),
             ("scope", cfg.scope)]
    resp = _post(meta.device_authorization_endpoint, start, "starting the device flow")
    body = _json_or_none(resp)
    err = idp_error(body)
    if err or not resp.ok or not isinstance(body, dict):
        raise ProvisionerError(
            f"error from the OpenID provider: {err or f'status {resp.status}'}"
        )
    device_code, user_code = body.get("device_code"), body.get("user_code")
    uri = (body.get("verification_uri_complete") or body.get("verification_uri")
           or body.get("verification_url"))
    if not (isinstance(device_code, str) and isinstance(user_code, str) and isinstance(uri, str)):
        raise ProvisionerError("invalid device authorization response from the OpenID provider")
    interval = _positive(body.get("interval"), 5.0)
    deadline = clock() + min(_positive(body.get("expires_in"), DEVICE_MAX_WAIT), DEVICE_MAX_WAIT)
    notify(f"Visit {uri} and enter the code: {user_code}")
    poll = [("client_id", cfg.client_id), ("client_secret", cfg.client_secret),
            ("device_code", device_code), ("grant_type", DEVICE_GRANT)]
    while True:
        # At least 1 s between polls, and never a sleep past the deadline (an IdP's
        # "interval": 1e9 would otherwise sleep forever).
        sleep(min(max(interval, 1.0), max(deadline - clock(), 0.0)))
        resp = _post(meta.token_endpoint, poll, "polling the token endpoint")
        body = _json_or_none(resp)
        code = body.get("error") if isinstance(body, dict) else None
        if resp.ok or code not in ("authorization_pending", "slow_down"):
            if code == "expired_token":
                raise ProvisionerError("device authorization grant expired")
            if code == "access_denied":
                raise ProvisionerError(
                    f"the sign-in was denied at the OpenID provider: {idp_error(body)}"
                )
            return id_token_from(resp)
        if code == "slow_down":
            interval += 5.0
        if clock() >= deadline:
            raise ProvisionerError("device authorization grant expired")


def _positive(value: Any, default: float) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return default
