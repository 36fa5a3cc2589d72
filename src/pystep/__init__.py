"""pystep: mint step-ca one-time tokens from Python.

The public API is re-exported here lazily so that ``import pystep`` stays cheap:

* :class:`~pystep.session.TokenSession` — where tokens go (CA URL and root, or a ca.json);
  ``unlock()`` returns a :class:`~pystep.session.TokenMinter` that mints many tokens.
* :class:`~pystep.request.TokenRequest`, :class:`~pystep.request.TokenKind` — one token.
* :class:`~pystep.provisioners.base.Credentials` — x5c/sshpop/nebula/k8ssa/KMS inputs.
* :func:`~pystep.batch.parse_batch`, :func:`~pystep.batch.mint_batch` — many at once.
* :mod:`pystep.errors` — every error is a :class:`~pystep.errors.PystepError`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "TokenSession": "pystep.session",
    "TokenMinter": "pystep.session",
    "TokenRequest": "pystep.request",
    "TokenKind": "pystep.request",
    "Credentials": "pystep.provisioners.base",
    "ProvisionerRecord": "pystep.provisioners.base",
    "BatchItem": "pystep.batch",
    "BatchResult": "pystep.batch",
    "parse_batch": "pystep.batch",
    "mint_batch": "pystep.batch",
    "PystepError": "pystep.errors",
}

__all__ = [
    "BatchItem",
    "BatchResult",
    "Credentials",
    "ProvisionerRecord",
    "PystepError",
    "TokenKind",
    "TokenMinter",
    "TokenRequest",
    "TokenSession",
    "__version__",
    "mint_batch",
    "parse_batch",
]

if TYPE_CHECKING:
    from pystep.batch import BatchItem, BatchResult, mint_batch, parse_batch
    from pystep.errors import PystepError
    from pystep.provisioners.base import Credentials, ProvisionerRecord
    from pystep.request import TokenKind, TokenRequest
    from pystep.session import TokenMinter, TokenSession


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'pystep' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
