"""OIDC end to end: the real ``pystep ca token`` CLI signs in at a real OpenID Provider
(oidc-provider on Node, started before the session CA by tests/harness/extras/oidc.py) and
the real step-ca 0.19 signs a certificate with the id_token it prints.

The user is scripted: pystep runs with ``STEP_OPEN_BROWSER=0`` and only shows the sign-in
URL (or, with the device flow, the verification URL and user code) on stderr; the test
reads it from the child's stderr as it streams and clicks through the provider's login and
consent pages with tests/oidc/browser.py, which ends at pystep's loopback listener.
"""

from __future__ import annotations

import queue
import re
import socket
import subprocess
import sys
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import IO, Any

import pytest

from tests.conftest import pystep_env
from tests.harness.extras import oidc as extra
from tests.harness.stepca import StepCA
from tests.integration.test_x5c import claims_of
from tests.oidc.browser import Browser

USER = "alice"
EMAIL = "alice@example.com"


@pytest.fixture(scope="module")
def provider(step_ca: StepCA) -> dict[str, Any]:
    return extra.require(step_ca.workdir)


@dataclass
class Child:
    """``python -m pystep`` running; stderr is read line by line while it runs."""

    proc: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    stderr: list[str] = field(default_factory=list)
    stdout: list[str] = field(default_factory=list)
    pumps: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.proc.stderr is not None and self.proc.stdout is not None
        for stream, is_err in ((self.proc.stderr, True), (self.proc.stdout, False)):
            pump = threading.Thread(target=self._pump, args=(stream, is_err), daemon=True)
            pump.start()
            self.pumps.append(pump)

    def _pump(self, stream: IO[str], is_err: bool) -> None:
        for line in stream:
            (self.stderr if is_err else self.stdout).append(line)
            if is_err:
                self.lines.put(line.rstrip("\n"))

    def wait_line(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first stderr line matching ``pattern`` (fails if pystep exits first)."""
        seen: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no stderr line matching {pattern!r} in {timeout}s: {seen}")
            seen.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def finish(self, timeout: float = 60.0) -> tuple[int, str, str]:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f"pystep did not finish: {''.join(self.stderr)}")
        for pump in self.pumps:  # the pipes are drained once the child has exited
            pump.join(10)
        return code, "".join(self.stdout), "".join(self.stderr)


def start_pystep(step_ca: StepCA, *args: str, env: dict[str, str] | None = None) -> Child:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pystep", "ca", "token", *args,
         "--ca-url", step_ca.url, "--root", str(step_ca.root_path)],
        env=pystep_env({"STEPPATH": str(step_ca.steppath), "STEP_OPEN_BROWSER": "0",
                        **(env or {})}),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # no controlling terminal: pystep never prompts
    )  # fmt: skip
    return Child(proc)


def browser_sign_in(child: Child, provider: dict[str, Any], consent: bool = True) -> str:
    """Complete the sign-in at the URL pystep shows; the redirect_uri it asked for."""
    issuer = re.escape(provider["issuer"])
    url = child.wait_line(rf"^({issuer}/\S+)$").group(1)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", query["redirect_uri"]), query
    b = Browser()
    page = b.login_and_consent(b.go(url), login=USER, consent=consent)
    # the last page is pystep's loopback listener answering the redirect
    assert page.url.startswith("http://127.0.0.1:") and not page.url.startswith(
        provider["issuer"]
    )
    assert ("Success" if consent else "Failure") in page.html
    return query["redirect_uri"]


def device_sign_in(child: Child, provider: dict[str, Any]) -> str:
    m = child.wait_line(r"^Visit (\S+) and enter the code: (\S+)$")
    url, code = m.group(1), m.group(2)
    assert url.startswith(provider["issuer"] + "/")
    b = Browser()
    page = b.go(url)
    if any(f.form_id == "op.deviceConfirmForm" for f in page.forms):  # uri_complete
        page = b.submit(page, page.form("op.deviceConfirmForm"))
    else:
        page = b.submit(page, page.forms[0], {"user_code": code})
    page = b.login_and_consent(page, login=USER)
    assert "Sign-in Success" in page.html or "success" in page.html.lower(), page.html[:300]
    return code


def token_of(child: Child) -> str:
    code, out, err = child.finish()
    assert code == 0, err
    token = out.strip()
    assert out == token + "\n" and token.count(".") == 2, out
    return token


def assert_ca_signs(
    step_ca: StepCA, provider: dict[str, Any], token: str, client_id: str = extra.CLIENT_ID
) -> None:
    header, claims = claims_of(token)
    assert header["alg"] == "ES256"
    assert claims["iss"] == provider["issuer"]
    assert claims["aud"] == client_id
    assert claims["sub"] == USER and claims["email"] == EMAIL
    # CN and SANs come from the token: the CSR's are ignored by the CA
    result = step_ca.sign(token, "csr-cn.example.com", ["csr-san.example.com"])
    assert result.status == 201, result.body
    assert result.common_name == USER
    assert sorted(result.sans) == sorted([EMAIL, f"{provider['issuer']}#{USER}"])
    # the nonce is the token's one-time id
    again = step_ca.sign(token, USER)
    assert again.status == 401, again.body


def test_browser_flow_signed_by_the_ca(step_ca: StepCA, provider: dict[str, Any]) -> None:
    child = start_pystep(step_ca, "anything.example.com", "--provisioner", extra.NAME)
    browser_sign_in(child, provider)
    token = token_of(child)
    assert "Visit the following URL:" in "".join(child.stderr)
    assert "✔ Provisioner: idp (OIDC)" in "".join(child.stderr)
    assert_ca_signs(step_ca, provider, token)


def test_kid_selects_the_oidc_provisioner_by_client_id(
    step_ca: StepCA, provider: dict[str, Any]
) -> None:
    child = start_pystep(step_ca, USER, "--kid", extra.CLIENT_ID)
    browser_sign_in(child, provider)
    token = token_of(child)
    assert "✔ Provisioner: idp (OIDC)" in "".join(child.stderr)
    assert_ca_signs(step_ca, provider, token)


def test_listen_address_of_the_provisioner(step_ca: StepCA, provider: dict[str, Any]) -> None:
    """``idp-listen`` has ``listenAddress``: the CA lists it and the redirect uses it."""
    child = start_pystep(step_ca, USER, "--provisioner", extra.LISTEN_NAME)
    redirect = browser_sign_in(child, provider)
    assert redirect == f"http://127.0.0.1:{provider['listen_port']}"
    assert_ca_signs(step_ca, provider, token_of(child), client_id=extra.LISTEN_CLIENT_ID)


def test_step_listen_overrides_the_listen_address(
    step_ca: StepCA, provider: dict[str, Any]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    child = start_pystep(step_ca, USER, "--provisioner", extra.LISTEN_NAME,
                         env={"STEP_LISTEN": f"127.0.0.1:{port}"})
    assert browser_sign_in(child, provider) == f"http://127.0.0.1:{port}"
    assert_ca_signs(step_ca, provider, token_of(child), client_id=extra.LISTEN_CLIENT_ID)


@pytest.mark.parametrize("how", ["flag", "env"])
def test_device_flow_signed_by_the_ca(
    step_ca: StepCA, provider: dict[str, Any], how: str
) -> None:
    if how == "flag":
        child = start_pystep(step_ca, USER, "--provisioner", extra.NAME, "--console")
    else:
        child = start_pystep(step_ca, USER, "--provisioner", extra.NAME,
                             env={"STEP_CONSOLE": "true"})
    code = device_sign_in(child, provider)
    token = token_of(child)
    err = "".join(child.stderr)
    assert code in err and "Visit the following URL" not in err  # no browser flow
    assert_ca_signs(step_ca, provider, token)


def test_denied_consent_fails_with_one_clear_line(
    step_ca: StepCA, provider: dict[str, Any]
) -> None:
    child = start_pystep(step_ca, USER, "--provisioner", extra.NAME)
    browser_sign_in(child, provider, consent=False)
    code, out, err = child.finish()
    assert code == 1 and out == ""
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "access_denied" in last and "End-User aborted interaction" in last, err
