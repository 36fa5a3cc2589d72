"""step's KMS URI syntax (go.step.sm/crypto kms/uri):
``<scheme>:<k=v;k=v…>?<k=v&…>``.

The opaque part holds ``;``-separated pairs, the query ``&``-separated ones; a lookup
checks the opaque part first, then the query. Values are percent-decoded. The scheme is
case-insensitive.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, unquote_to_bytes

from pystep.errors import KMSError

KNOWN_SCHEMES = frozenset(
    {
        "softkms",
        "cloudkms",
        "awskms",
        "pkcs11",
        "yubikey",
        "sshagentkms",
        "azurekms",
        "capi",
        "tpmkms",
        "mackms",
        "kms",
    }
)

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")

SECRET_KEYS = frozenset({"pin-value", "management-key", "client-secret"})
"""URI parameters whose values are secrets: never shown in a message."""

_PARAM = re.compile(r"(?<![^;&?:\s\"'/])([^;&?=\s\"':/]+=)([^;&?\s\"']*)")


def redact(text: str, extra: Sequence[str] = ()) -> str:
    """``text`` with the values of secret URI parameters (:data:`SECRET_KEYS`, also when
    the key is percent-encoded), and the literal ``extra`` secrets, masked."""
    for secret in sorted({s for s in extra if s}, key=len, reverse=True):
        text = text.replace(secret, "*****")
    return _PARAM.sub(_mask, text)


def _is_secret_key(key: str) -> bool:
    return unquote(key[:-1]).strip().lower() in SECRET_KEYS


def _mask(m: re.Match[str]) -> str:
    if not _is_secret_key(m.group(1)) or m.group(2).startswith("*****"):
        return m.group(0)  # not a secret, or already masked literally
    return m.group(1) + "*****"


_URI_PARAM = re.compile(r"(?<![^;&?:/\s])([^;&?=\s:/]+=)([^;&]*)")


def redact_uri(raw: str) -> str:
    """A key name or KMS URI as written by the user, fit for a message: the value of
    every secret parameter (up to the next ``;`` or ``&``, so a PIN with spaces, quotes
    or ``?`` is still masked whole) is replaced by ``*****``."""
    return _URI_PARAM.sub(_mask_uri, raw)


def _mask_uri(m: re.Match[str]) -> str:
    if _is_secret_key(m.group(1)):
        return m.group(1) + "*****"
    # A plain value may hide a query after "?": look inside it too.
    return m.group(1) + redact_uri(m.group(2))


def _find_secrets(text: str) -> list[str]:
    out: list[str] = []
    for m in _URI_PARAM.finditer(text):
        if _is_secret_key(m.group(1)):
            out.append(m.group(2))
        else:
            out.extend(_find_secrets(m.group(2)))
    return out


def secret_values(args: Sequence[str]) -> list[str]:
    """The secret parameter values written in ``args``, raw and percent-decoded."""
    found = [v for a in args for v in _find_secrets(a)]
    return found + [unquote(v) for v in found]


@dataclass(frozen=True)
class KmsUri:
    """A parsed KMS URI. ``opaque`` is the raw text between ``scheme:`` and ``?``."""

    scheme: str
    opaque: str
    values: dict[str, list[str]] = field(default_factory=dict)
    query: dict[str, list[str]] = field(default_factory=dict)
    raw: str = ""

    def get(self, key: str, default: str | None = None) -> str | None:
        """First value for ``key`` from the opaque part, else the query, else ``default``."""
        for src in (self.values, self.query):
            if src.get(key):
                return src[key][0]
        return default

    def get_bytes(self, key: str) -> bytes | None:
        """A value as bytes: hex if it is an even run of hex digits, else percent-decoded
        raw bytes (how step reads ``id=`` of PKCS#11 keys)."""
        raw = self._raw_value(key)
        if raw is None:
            return None
        if re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", raw):
            return bytes.fromhex(raw)
        return unquote_to_bytes(raw)

    def _raw_value(self, key: str) -> str | None:
        for part in _split(self.opaque, ";"):
            k, _, v = part.partition("=")
            if unquote(k) == key:
                return v
        return None

    def has(self, key: str) -> bool:
        return key in self.values or key in self.query

    def pin(self) -> str | None:
        """``pin-value``, else the trimmed contents of ``pin-source``, else None."""
        value = self.get("pin-value")
        if value is not None:
            return value
        source = self.get("pin-source")
        if source is not None:
            try:
                with open(os.path.expanduser(source), "rb") as fh:
                    return fh.read(4096).decode("utf-8").strip()
            except OSError as exc:
                raise KMSError(
                    f"error reading pin-source {redact_uri(source)}: {exc.strerror}"
                ) from None
            except UnicodeDecodeError:
                raise KMSError(
                    f"error reading pin-source {redact_uri(source)}: the PIN is not UTF-8"
                ) from None
        return None


def _split(text: str, sep: str) -> list[str]:
    return [p for p in text.split(sep) if p]


def _pairs(text: str, sep: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in _split(text, sep):
        k, _, v = part.partition("=")
        out.setdefault(unquote(k), []).append(unquote(v))
    return out


def has_scheme(name: str) -> str | None:
    """The lower-cased scheme of ``name`` if it starts like a URI (``x:``), else None.
    A Windows-drive-like single letter is not a scheme."""
    m = _SCHEME.match(name)
    if not m or len(m.group(1)) == 1:
        return None
    return m.group(1).lower()


def parse(uri: str) -> KmsUri:
    """Parse a KMS URI; raises KMSError when there is no ``scheme:`` prefix."""
    scheme = has_scheme(uri)
    if scheme is None:
        raise KMSError(
            f"invalid KMS URI '{redact_uri(uri)}': it must start with a scheme such as pkcs11:"
        )
    rest = uri[len(scheme) + 1 :]
    opaque, _, query = rest.partition("?")
    # Some names are written as scheme://… (e.g. awskms:///…); keep them opaque.
    return KmsUri(
        scheme=scheme,
        opaque=opaque,
        values=_pairs(opaque, ";"),
        query=_pairs(query, "&"),
        raw=uri,
    )
