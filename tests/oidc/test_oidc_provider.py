"""pystep's OIDC sign-in against a real OpenID Provider (oidc-provider) on loopback.

The browser is a scripted HTTP client (browser.py) injected as the ``open_browser``
callback; it clicks through the provider's real login and consent pages."""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest
from browser import Browser
from conftest import RunningProvider

from pystep import oauth
from pystep.errors import ProvisionerError
from pystep.provisioners import oidc
from pystep.provisioners.base import Audience, Credentials, MintContext, ProvisionerRecord
from pystep.request import TokenRequest


def record_for(p: RunningProvider, **extra: Any) -> ProvisionerRecord:
    raw = {
        "type": "OIDC",
        "name": "idp",
        "clientID": p.client_id,
        "clientSecret": p.client_secret,
        "configurationEndpoint": p.issuer,
        **extra,
    }
    return ProvisionerRecord(raw)


def ctx_for(console: bool = False, **extra: Any) -> MintContext:
    extra.setdefault("oauth_timeout", 30.0)  # fail fast if the scripted user gets stuck
    return MintContext(
        audience=Audience("https://ca.example.com"),
        credentials=Credentials(console=console),
        extra=extra,
    )


def verified_claims(p: RunningProvider, token: str) -> dict[str, Any]:
    """Check the id_token's signature with the provider's published keys."""
    from jwcrypto import jwk, jwt

    with urllib.request.urlopen(f"{p.issuer}/jwks") as resp:
        keys = jwk.JWKSet.from_json(resp.read())
    parsed = jwt.JWT(jwt=token, key=keys, algs=["ES256", "RS256"])
    claims: dict[str, Any] = json.loads(parsed.claims)
    return claims


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)


def test_browser_flow_returns_a_verified_id_token(provider: RunningProvider) -> None:
    seen: list[str] = []

    def user(url: str) -> bool:
        seen.append(url)
        b = Browser()
        page = b.go(url)
        page = b.login_and_consent(page, login="alice")
        assert "Success" in page.html and page.url.startswith("http://127.0.0.1:")
        return True

    notes = Recorder()
    minter = oidc.prepare(record_for(provider), ctx_for(open_browser=user, notify=notes))
    token = minter.mint(TokenRequest(subject="ignored"))
    claims = verified_claims(provider, token)
    assert claims["iss"] == provider.issuer
    assert claims["aud"] == provider.client_id
    assert claims["email"] == "alice@example.com"
    assert claims["sub"] == "alice"
    assert re.fullmatch(r"[0-9a-f]{64}", claims["nonce"])

    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(seen[0]).query))
    assert query["code_challenge_method"] == "S256"
    assert query["response_type"] == "code"
    assert query["scope"] == "openid email"
    assert re.fullmatch(r"[A-Za-z0-9]{32}", query["state"])
    assert query["nonce"] == claims["nonce"]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", query["redirect_uri"])
    assert any(seen[0] in line for line in notes.lines)  # the URL is always shown


def test_scopes_auth_params_and_listen_address(provider: RunningProvider) -> None:
    seen: list[str] = []

    def user(url: str) -> bool:
        seen.append(url)
        b = Browser()
        b.login_and_consent(b.go(url), login="bob@corp.example")
        return True

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rec = record_for(provider, scopes=["openid", "email", "profile"],
                     authParams=["ui_locales=en", "login_hint=bob"],
                     listenAddress=f":{port}")
    token = oidc.prepare(rec, ctx_for(open_browser=user, notify=Recorder())).mint(
        TokenRequest(subject="x"))
    assert verified_claims(provider, token)["email"] == "bob@corp.example"
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(seen[0]).query))
    assert query["scope"] == "openid email profile"
    assert query["ui_locales"] == "en" and query["login_hint"] == "bob"
    assert query["redirect_uri"] == f"http://127.0.0.1:{port}"


def test_denied_consent(provider: RunningProvider) -> None:
    def user(url: str) -> bool:
        b = Browser()
        page = b.login_and_consent(b.go(url), consent=False)
        assert "Failure" in page.html
        return True

    minter = oidc.prepare(record_for(provider), ctx_for(open_browser=user, notify=Recorder()))
    with pytest.raises(ProvisionerError, match="access_denied: End-User aborted interaction"):
        minter.mint(TokenRequest(subject="x"))


def test_wrong_state_is_ignored(provider: RunningProvider) -> None:
    """A callback with a wrong state gets a 400 and does not end the flow (anyone on the
    machine could send one); the provider's real redirect then completes it."""

    def user(url: str) -> bool:
        b = Browser(stop_at="http://127.0.0.1:")
        redirect = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["redirect_uri"][0]
        b.stop_at = redirect
        b.login_and_consent(b.go(url))
        assert b.stopped_at is not None and "code=" in b.stopped_at
        forged = re.sub(r"state=[A-Za-z0-9]+", "state=forged", b.stopped_at)
        assert Browser().go(forged).status == 400
        assert Browser().go(redirect + "/?error=access_denied").status == 400
        assert "Success" in Browser().go(b.stopped_at).html
        return True

    minter = oidc.prepare(record_for(provider), ctx_for(open_browser=user, notify=Recorder()))
    token = minter.mint(TokenRequest(subject="x"))
    assert verified_claims(provider, token)["aud"] == provider.client_id


def test_timeout_when_nobody_signs_in(provider: RunningProvider) -> None:
    notes = Recorder()
    minter = oidc.prepare(
        record_for(provider),
        ctx_for(open_browser=lambda url: False, notify=notes, oauth_timeout=0.5),
    )
    start = time.monotonic()
    with pytest.raises(ProvisionerError, match=r"^oauth command timed out, please try again$"):
        minter.mint(TokenRequest(subject="x"))
    assert time.monotonic() - start < 5
    assert notes.lines and notes.lines[0].startswith("Visit the following URL:")


def test_code_reuse_rejected_by_provider(provider: RunningProvider) -> None:
    """The exchange's error path: the IdP's own words come back (invalid_grant)."""
    meta = oauth.discover(provider.issuer)
    cfg = oauth.ClientConfig(provider.client_id, provider.client_secret)
    with pytest.raises(ProvisionerError, match="invalid_grant"):
        oauth.exchange_code(meta, cfg, code="not-a-code", redirect_uri="http://127.0.0.1:1",
                            verifier="x" * 64)


def test_discovery_appends_well_known_and_checks_fields(provider: RunningProvider) -> None:
    meta = oauth.discover(provider.issuer + "/")
    assert meta.issuer == provider.issuer
    assert meta.token_endpoint.startswith(provider.issuer)
    assert meta.device_authorization_endpoint
    meta2 = oauth.discover(provider.issuer + "/.well-known/openid-configuration")
    assert meta2 == meta
    with pytest.raises(ProvisionerError, match="error retrieving"):
        oauth.discover(provider.issuer + "/nothing-here")


def _device_user(url_line: list[str], deny: bool = False, delay: float = 0.0) -> Any:
    """A notify callback that, like a user on another device, opens the shown URL."""
    done = threading.Event()
    outcome: list[object] = []

    def notify(line: str) -> None:
        url_line.append(line)
        m = re.fullmatch(r"Visit (\S+) and enter the code: (\S+)", line)
        assert m, line

        def act() -> None:
            time.sleep(delay)
            b = Browser()
            try:
                page = b.go(m.group(1))
                # verification_uri_complete: the user confirms the code shown
                if any(f.form_id == "op.deviceConfirmForm" for f in page.forms):
                    page = b.submit(page, page.form("op.deviceConfirmForm"))
                page = b.login_and_consent(page, consent=not deny)
                outcome.append(page.html)
            except BaseException as exc:  # surfaced by the test through `outcome`
                outcome.append(exc)
            done.set()

        threading.Thread(target=act, daemon=True).start()

    notify.done = done  # type: ignore[attr-defined]
    notify.outcome = outcome  # type: ignore[attr-defined]
    return notify


def guarded_sleep(notify: Any, waits: list[float] | None = None, real: float = 0.3) -> Any:
    """A sleep for the poller that surfaces the scripted user's failure instead of polling
    until the code expires."""
    calls = [0]

    def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)
        for item in notify.outcome:
            if isinstance(item, BaseException):
                raise item
        calls[0] += 1
        assert calls[0] < 100, "the device flow never finished"
        time.sleep(real)

    return sleep


def test_device_flow_polls_until_approved(provider: RunningProvider) -> None:
    meta = oauth.discover(provider.issuer, device=True)
    cfg = oauth.ClientConfig(provider.client_id, provider.client_secret)
    lines: list[str] = []
    waits: list[float] = []
    user = _device_user(lines, delay=0.8)
    token = oauth.device_flow(meta, cfg, notify=user, sleep=guarded_sleep(user, waits))
    claims = verified_claims(provider, token)
    assert claims["email"] == "alice@example.com"
    assert len(waits) >= 2 and set(waits) == {5.0}  # pending at least once, default interval
    assert "user_code=" in lines[0]


def test_device_flow_denied(provider: RunningProvider) -> None:
    meta = oauth.discover(provider.issuer, device=True)
    cfg = oauth.ClientConfig(provider.client_id, provider.client_secret)
    user = _device_user([], deny=True)
    with pytest.raises(ProvisionerError, match=r"denied.*access_denied: End-User aborted"):
        oauth.device_flow(meta, cfg, notify=user, sleep=guarded_sleep(user))


def test_device_flow_expired_code(start_provider: Any) -> None:
    short = start_provider(DEVICE_CODE_TTL="2")
    meta = oauth.discover(short.issuer, device=True)
    cfg = oauth.ClientConfig(short.client_id, short.client_secret)
    # A frozen clock: only the provider's own expired_token can end this.
    with pytest.raises(ProvisionerError, match=r"^device authorization grant expired$"):
        oauth.device_flow(meta, cfg, notify=lambda line: None,
                          sleep=lambda s: time.sleep(1.0), clock=lambda: 0.0)


def test_console_through_prepare(provider: RunningProvider) -> None:
    """The device flow end to end through the provisioner interface (real 5 s interval)."""
    lines: list[str] = []
    minter = oidc.prepare(record_for(provider), ctx_for(console=True,
                                                        notify=_device_user(lines)))
    token = minter.mint(TokenRequest(subject="x"))
    assert verified_claims(provider, token)["aud"] == provider.client_id
