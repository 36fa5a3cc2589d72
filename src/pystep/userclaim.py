"""The ``user`` claim's values (``--set``, ``--set-file``, batch ``"set"``), decoded as step does.

A ``--set`` value that is valid JSON becomes that JSON value, anything else stays the raw
string (Go's json.Unmarshal into ``any``). Python's decoder is more lenient than Go's in two
ways that would put invalid JSON in a token: it accepts ``NaN``/``Infinity`` and turns
``1e400`` into an infinity. Those values stay raw strings here, as Go would leave them. Input
nested too deeply for the decoder is refused like any other malformed JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any


class _NotJSON(ValueError):
    pass


def _no_constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJSON(f"{text} is out of range")
    return value


def loads_strict(data: str | bytes) -> Any:
    """``json.loads`` accepting only what Go's encoding/json accepts; ValueError otherwise."""
    try:
        return json.loads(data, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def decode_value(text: str) -> Any:
    """A ``--set key=value`` value: JSON when it is JSON, else the string itself."""
    try:
        return loads_strict(text)
    except ValueError:
        return text


def load_object(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object from a ``--set-file`` (UTF-8 BOM skipped); ValueError with a reason."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    loaded = loads_strict(data)
    if not isinstance(loaded, dict):
        raise ValueError(f"{what} is not a JSON object")
    return loaded
