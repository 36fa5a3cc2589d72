"""Encodings shared by the JOSE code: unpadded base64url and Go-compatible JSON."""

from __future__ import annotations

import base64
import json
from typing import Any


def b64url_encode(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str | bytes) -> bytes:
    """Decode base64url with or without padding; raises ValueError on bad input."""
    if isinstance(text, str):
        text = text.encode("ascii")
    text = text.strip()
    if b"=" in text.rstrip(b"="):
        raise ValueError("invalid base64url")
    stripped = text.rstrip(b"=")
    pad = (-len(stripped)) % 4
    if pad == 3:
        raise ValueError("invalid base64url length")
    try:
        return base64.urlsafe_b64decode(stripped + b"=" * pad)
    except Exception as exc:  # binascii.Error
        raise ValueError("invalid base64url") from exc


def b64std_encode(data: bytes) -> str:
    """Standard padded base64, as step writes ``x5c``, ``sshpop`` and ``nebula`` headers."""
    return base64.b64encode(data).decode("ascii")


def go_json_dumps(obj: Any) -> bytes:
    """Serialise like Go's encoding/json over a map: sorted keys, no spaces, and
    ``<``, ``>``, ``&`` (plus U+2028/U+2029) escaped, non-ASCII kept as UTF-8."""
    text = json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    text = (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    return text.encode("utf-8")
