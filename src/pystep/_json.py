"""``json.loads`` for untrusted input: a document nested deeper than Python's recursion
limit is a ValueError like any other malformed JSON (not a RecursionError, which would
escape every ``except ValueError`` and end as an "unexpected error")."""

from __future__ import annotations

import json
from typing import Any


def loads(data: str | bytes | bytearray) -> Any:
    """Parse JSON; raises ValueError (UnicodeDecodeError for bad UTF-8 bytes) when
    ``data`` is not JSON or is nested too deeply."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON value is nested too deeply") from None
