"""Batch parsing and minting (offline, real step v0.19 ca.json and keys; no CA)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pystep.batch import BatchItem, mint_batch, parse_batch, progress_for, render_result
from pystep.jose.jws import decode_compact
from pystep.request import TokenKind, TokenRequest
from pystep.session import TokenSession

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "step-v0.19"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
ONLINE = TokenRequest(subject="", user={"team": "ops"})


def _one(line: str, base: TokenRequest = ONLINE) -> BatchItem:
    items = parse_batch([line], base, now=NOW)
    assert len(items) == 1
    return items[0]


def test_plain_lines_blank_and_comments() -> None:
    items = parse_batch(["a.example.com", "", "  # note", " b.example.com "], ONLINE, now=NOW)
    assert [(i.line, i.subject) for i in items] == [(1, "a.example.com"), (4, "b.example.com")]
    assert all(i.request is not None and i.request.user == {"team": "ops"} for i in items)


def test_json_fields() -> None:
    req = _one('{"subject": "w", "sans": ["w", "10.0.0.1"], "not-after": "10m",'
               ' "set": {"env": "prod"}}').request
    assert req is not None
    assert req.kind is TokenKind.SIGN and req.sans == ("w", "10.0.0.1")
    assert req.not_after == NOW + timedelta(minutes=10)
    assert req.user == {"team": "ops", "env": "prod"}
    ssh = _one('{"subject": "alice", "ssh": true, "principals": ["alice", "root"],'
               ' "cert-not-after": "8h"}').request
    assert ssh is not None and ssh.kind is TokenKind.SSH_USER_SIGN
    assert ssh.principals == ("alice", "root") and ssh.cert_not_after is not None
    host = _one('{"subject": "h", "ssh": true, "host": true}').request
    assert host is not None and host.kind is TokenKind.SSH_HOST_SIGN
    rev = _one('{"subject": "123", "revoke": true}').request
    assert rev is not None and rev.kind is TokenKind.REVOKE
    base_ssh = TokenRequest(subject="", kind=TokenKind.SSH_HOST_SIGN, principals=("p",))
    inherited = _one("h2.example.com", base_ssh).request
    assert inherited is not None and inherited.kind is TokenKind.SSH_HOST_SIGN
    assert inherited.principals == ("p",)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"subject": ', "line 1: Expecting value"),
        ("[1]", None),  # not JSON-looking: a subject
        ('["x"]', None),
        ('{"sans": ["a"]}', "line 1: 'subject' is required"),
        ('{"subject": "a", "sanz": []}', "line 1: unknown field 'sanz'"),
        ('{"subject": "a", "ssh": true, "sans": ["a"]}', "'ssh' is incompatible with 'sans'"),
        ('{"subject": "a", "host": true}', "line 1: 'host' requires 'ssh'"),
        ('{"subject": "a", "principals": ["a"]}', "'principals' requires 'ssh'"),
        ('{"subject": "1", "revoke": true, "sans": ["a"]}', "'sans' is incompatible with 'revoke'"),
        ('{"subject": "a", "not-after": "soon"}', "invalid value 'soon' for 'not-after'"),
        ('{"subject": "a", "sans": "a"}', "'sans' must be a list of strings"),
        ('{"subject": "a", "set": [1]}', "'set' must be a JSON object"),
    ],
)
def test_bad_lines(line: str, message: str | None) -> None:
    item = _one(line)
    if message is None:
        assert item.request is not None and item.subject == line
    else:
        assert item.request is None and item.error is not None
        assert item.error.startswith("line 1: ") and message in item.error


def test_set_is_refused_offline() -> None:
    item = _one('{"subject": "a", "set": {"k": 1}}', TokenRequest(subject="", user=None))
    assert item.error == "line 1: 'set' cannot be used offline"


@pytest.fixture(scope="module")
def minter():  # type: ignore[no-untyped-def]
    session = TokenSession(
        root=str(FIX / "pki" / "root_ca.crt"), offline=True,
        ca_config=str(FIX / "pki" / "ca.json"),
    )
    return session.unlock("admin", password_file=str(FIX / "password.txt"))


def test_mint_batch_order_errors_and_jti(minter) -> None:  # type: ignore[no-untyped-def]
    lines = ["a", '{"subject": "b", "not-after": "2h"}', "{bad", "c", "d"]
    items = parse_batch(lines, TokenRequest(subject=""))
    results = list(mint_batch(minter, items))
    assert [r.line for r in results] == [1, 2, 3, 4, 5]
    assert [r.ok for r in results] == [True, False, False, True, True]
    assert results[1].error is not None and results[1].error.startswith("line 2: requested")
    claims = [decode_compact(r.token).claims for r in results if r.token]
    assert [c["sub"] for c in claims] == ["a", "c", "d"]
    assert len({c["jti"] for c in claims}) == 3
    assert [r.expires for r in results if r.ok] == [c["exp"] for c in claims]
    fast = list(mint_batch(minter, items, fail_fast=True))
    assert [r.line for r in fast] == [1, 2]


def test_render_result(minter) -> None:  # type: ignore[no-untyped-def]
    ok, bad = mint_batch(minter, parse_batch(["a", "{"], TokenRequest(subject="")))
    assert render_result(ok, "text") == ok.token
    assert render_result(bad, "text") is None
    obj = json.loads(render_result(ok, "json") or "")
    assert obj["line"] == 1 and obj["subject"] == "a" and obj["token"] == ok.token
    exp = decode_compact(ok.token or "").claims["exp"]
    assert obj["expires"] == datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    err = json.loads(render_result(bad, "json") or "")
    assert err["line"] == 2 and err["error"].startswith("line 2: ") and "token" not in err


def test_progress_only_on_a_terminal_for_large_batches(tmp_path: Path) -> None:
    with open(tmp_path / "f", "w") as plain:
        assert progress_for(plain, 10_000) is None
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as tty:
        assert progress_for(tty, 10) is None
        bar = progress_for(tty, 1000)
        assert bar is not None
        bar(1000, 1000)
    out = os.read(master, 1000).decode()
    os.close(master)
    assert "1000/1000" in out and "#" * 30 in out


def test_module_docstring_examples_run() -> None:
    import doctest

    import pystep.batch

    result = doctest.testmod(pystep.batch)
    assert result.attempted >= 2 and result.failed == 0


def test_sans_refused_when_the_command_says_ssh() -> None:
    # `--ssh --batch f`: a line's sans would be dropped silently, so it is an error.
    base = TokenRequest(subject="", kind=TokenKind.SSH_USER_SIGN, user={})
    (item,) = parse_batch(['{"subject": "x", "sans": ["a"]}'], base, now=NOW)
    assert item.request is None and item.error is not None
    assert "'ssh' is incompatible with 'sans'" in item.error


def test_nan_and_deep_json_lines_are_line_errors() -> None:
    items = parse_batch(['{"subject": "x", "set": {"a": NaN}}', "{" + "[" * 100_000], ONLINE,
                        now=NOW)
    assert [i.request for i in items] == [None, None]
    assert [i.line for i in items] == [1, 2]
