"""Batch minting: many tokens from one unlocked provisioner, one line of input each.

Input lines are a subject each, or a JSON object with per-token fields::

    web1.example.com
    {"subject": "web2.example.com", "sans": ["web2.example.com", "10.0.0.2"]}
    {"subject": "alice@example.com", "ssh": true, "principals": ["alice"]}
    {"subject": "h.example.com", "ssh": true, "host": true, "not-after": "10m"}

JSON fields: ``subject`` (required), ``sans``, ``principals``, ``ssh``, ``host``,
``revoke``, ``not-before``, ``not-after``, ``cert-not-before``, ``cert-not-after``,
``set`` (an object: the ``user`` claim, merged over the command's ``--set``). Anything not
given comes from the ``base`` request (the command's flags). Blank lines and lines that
start with ``#`` are skipped; line numbers count every line.

A bad line is a :class:`BatchResult` with an error and its line number; the others are
still minted (unless ``fail_fast``). Results come back in input order.

>>> from pystep.request import TokenRequest
>>> items = parse_batch(['a.example.com', '', '{"subject": "b", "sans": ["b", "10.0.0.1"]}',
...                      '{"sans": []}'], TokenRequest(subject=""))
>>> [(i.line, i.subject, i.request.sans if i.request else i.error) for i in items]
[(1, 'a.example.com', ()), (3, 'b', ('b', '10.0.0.1')), (4, '', "line 4: 'subject' is required")]
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import IO, Any, NamedTuple, Protocol

from pystep._files import read_bounded
from pystep.errors import PystepError
from pystep.request import TokenKind, TokenRequest
from pystep.timeutil import TimeDuration
from pystep.userclaim import loads_strict

__all__ = [
    "BatchItem",
    "BatchResult",
    "Progress",
    "mint_batch",
    "parse_batch",
    "read_batch_lines",
    "render_result",
]

FIELDS = frozenset({
    "subject", "sans", "principals", "ssh", "host", "revoke", "not-before", "not-after",
    "cert-not-before", "cert-not-after", "set",
})
MAX_BATCH_BYTES = 256 << 20
PROGRESS_MIN_ITEMS = 200


class _Mints(Protocol):
    def mint(self, req: TokenRequest) -> str: ...


class BatchItem(NamedTuple):
    """One meaningful input line: its request, or why it cannot become one."""

    line: int
    subject: str
    request: TokenRequest | None
    error: str | None = None


class BatchResult(NamedTuple):
    """The outcome for one input line: a token (with its ``exp``) or an error message."""

    line: int
    subject: str
    token: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.token is not None

    @property
    def expires(self) -> int | None:
        """The token's ``exp`` (read from the token only when asked: batches are large)."""
        return _expiry(self.token) if self.token is not None else None


def read_batch_lines(path: str) -> list[str]:
    """The lines of ``path`` (``-`` is stdin), UTF-8, BOM skipped."""
    data = read_bounded(path, MAX_BATCH_BYTES, too_large=f"larger than {MAX_BATCH_BYTES >> 20} MiB",
                        dash_is_stdin=True)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8", "replace").splitlines()


def _kind_flags(kind: TokenKind) -> dict[str, bool]:
    return {
        "ssh": kind.is_ssh,
        "host": kind is TokenKind.SSH_HOST_SIGN,
        "revoke": kind in (TokenKind.REVOKE, TokenKind.SSH_REVOKE),
        "renew": kind in (TokenKind.RENEW, TokenKind.SSH_RENEW),
        "rekey": kind is TokenKind.SSH_REKEY,
    }


def _strings(obj: dict[str, Any], key: str) -> tuple[str, ...] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"'{key}' must be a list of strings")
    return tuple(value)


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string")
    return value


def _from_json(obj: dict[str, Any], base: TokenRequest, now: datetime) -> TokenRequest:
    from pystep.timeutil import parse_time_or_duration

    unknown = sorted(set(obj) - FIELDS)
    if unknown:
        raise ValueError(f"unknown field {', '.join(repr(u) for u in unknown)}")
    subject = obj.get("subject")
    if not isinstance(subject, str) or not subject:
        raise ValueError("'subject' is required")
    flags = _kind_flags(base.kind)
    for key in ("ssh", "host", "revoke"):
        if key in obj:
            if not isinstance(obj[key], bool):
                raise ValueError(f"'{key}' must be true or false")
            flags[key] = obj[key]
    sans = _strings(obj, "sans")
    principals = _strings(obj, "principals")
    if sans:
        for key in ("ssh", "host"):
            if flags[key]:  # from the line or from the command's flags
                raise ValueError(f"'{key}' is incompatible with 'sans'")
        if principals:
            raise ValueError("'principals' is incompatible with 'sans'")
    if (flags["host"] or principals) and not flags["ssh"]:
        raise ValueError(f"'{'host' if flags['host'] else 'principals'}' requires 'ssh'")
    kind = TokenKind.from_flags(**flags)
    if kind is TokenKind.REVOKE and sans:
        raise ValueError("'sans' is incompatible with 'revoke'")
    fields: dict[str, Any] = {"subject": subject, "kind": kind}
    if sans is not None:
        fields["sans"] = sans
    if principals is not None:
        fields["principals"] = principals
    for key, attr in (("not-before", "not_before"), ("not-after", "not_after")):
        text = _text(obj, key)
        if text:
            try:
                fields[attr] = parse_time_or_duration(text, now)
            except ValueError:
                raise ValueError(f"invalid value '{text}' for '{key}'") from None
    for key, attr in (("cert-not-before", "cert_not_before"),
                      ("cert-not-after", "cert_not_after")):
        text = _text(obj, key)
        if text:
            try:
                fields[attr] = TimeDuration.parse(text)
            except ValueError:
                raise ValueError(f"invalid value '{text}' for '{key}'") from None
    if "set" in obj:
        data = obj["set"]
        if not isinstance(data, dict):
            raise ValueError("'set' must be a JSON object")
        if base.user is None:
            raise ValueError("'set' cannot be used offline")
        fields["user"] = {**base.user, **data}
    return base._replace(**fields)


def parse_batch(
    lines: Iterable[str], base: TokenRequest, *, now: datetime | None = None
) -> list[BatchItem]:
    """Turn input lines into requests; ``base`` supplies every field a line leaves out."""
    moment = now or datetime.now(UTC)
    items: list[BatchItem] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if not text.startswith("{"):
            items.append(BatchItem(number, text, base._replace(subject=text)))
            continue
        subject = ""
        try:
            obj = loads_strict(text)
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            if isinstance(obj.get("subject"), str):
                subject = obj["subject"]
            items.append(BatchItem(number, subject, _from_json(obj, base, moment)))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            items.append(BatchItem(number, subject, None, f"line {number}: {exc}"))
    return items


_EXP = re.compile(rb'"exp":(\d+)[,}]')


def _expiry(token: str) -> int | None:
    """``exp`` from the payload; our own tokens are Go-style JSON, so a pattern suffices."""
    import base64
    import binascii

    try:
        payload = token.split(".")[1]
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    except (IndexError, ValueError, binascii.Error):
        return None
    match = _EXP.search(raw)
    return int(match.group(1)) if match else None


Progress = Callable[[int, int], None]


def mint_batch(
    minter: _Mints,
    items: Sequence[BatchItem],
    *,
    fail_fast: bool = False,
    progress: Progress | None = None,
) -> Iterator[BatchResult]:
    """Mint every item in order with one minter; each token gets its own ``jti``.

    A failure becomes a result with ``error`` (``line N: …``); with ``fail_fast`` it is
    the last result. ``progress(done, total)`` is called after each item.
    """
    total = len(items)
    for done, item in enumerate(items, start=1):
        if item.request is None:
            result = BatchResult(item.line, item.subject, error=item.error)
        else:
            try:
                token = minter.mint(item.request)
                result = BatchResult(item.line, item.subject, token)
            except PystepError as exc:
                result = BatchResult(
                    item.line, item.subject, error=f"line {item.line}: {exc.diagnostics()}"
                )
        yield result
        if progress is not None:
            progress(done, total)
        if fail_fast and result.error is not None:
            return


def render_result(result: BatchResult, fmt: str) -> str | None:
    """The stdout line for a result: the token (text), or a JSON object (json; failed lines
    too, with ``error``, so that output lines match input lines). None: nothing to print."""
    if fmt != "json":
        return result.token
    head = f'{{"line": {result.line}, "subject": {json.dumps(result.subject, ensure_ascii=False)}'
    if result.token is None:
        return f'{head}, "error": {json.dumps(result.error, ensure_ascii=False)}}}'
    # The token is base64url and dots: nothing in it needs JSON escaping.
    exp = result.expires
    if exp is None:
        return f'{head}, "token": "{result.token}"}}'
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))
    return f'{head}, "token": "{result.token}", "expires": "{expires}"}}'



class ProgressBar:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    def __init__(self, stream: IO[str], width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "-" * (self.width - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r[{bar}] {done}/{total}{end}")
        self.stream.flush()


def progress_for(stream: IO[str], total: int) -> Progress | None:
    """A progress bar when ``stream`` is a terminal and the batch is large, else None."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return ProgressBar(stream) if tty and total >= PROGRESS_MIN_ITEMS else None
