"""The front door to KMS, HSM and agent keys.

``open_signer(name, opts)`` turns a key name (a KMS URI, or a bare name read relative to
``--kms``) into a :class:`~pystep.jose.signer.Signer`. Each scheme with a native backend
maps to one module ``pystep.kms.<module>`` exposing::

    open_signer(key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions) -> Signer
    load_certificates(key_uri, kms_uri, opts) -> list[x509.Certificate]   # optional

Schemes without a native backend go to the ``step-kms-plugin`` bridge, as step does.
Backends are imported only when used, so importing this package costs nothing.

Whether a name is a file is the caller's decision (step: an existing file is a file).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import ModuleType
from typing import TYPE_CHECKING, cast

from pystep.errors import InteractionRequired, KMSError, MissingExtraError
from pystep.kms.uri import KNOWN_SCHEMES, KmsUri, has_scheme, parse, redact_uri

if TYPE_CHECKING:
    from cryptography import x509

    from pystep.jose.signer import Signer

PinPrompter = Callable[[str], str]
"""Prompt text -> PIN. ``None`` in :class:`KmsOptions` means non-interactive."""


@dataclass(frozen=True)
class KmsOptions:
    """Everything a backend may need besides the key name."""

    kms_uri: str | None = None  # --kms
    pin_prompter: PinPrompter | None = None
    steppath: str | None = None  # for $STEPPATH/plugins/step-kms-plugin
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)


BACKENDS: dict[str, str] = {
    "pkcs11": "pystep.kms.pkcs11",
    "sshagentkms": "pystep.kms.sshagent",
    "awskms": "pystep.kms.awskms",
    "tpmkms": "pystep.kms.tpm",
    "yubikey": "pystep.kms.yubikey",
    "cloudkms": "pystep.kms.cloudkms",
    "azurekms": "pystep.kms.azurekms",
}
"""Scheme -> module of its native backend."""

PLUGIN_SCHEMES = frozenset(KNOWN_SCHEMES - BACKENDS.keys())
"""Schemes only step-kms-plugin handles here (capi, mackms, kms, softkms)."""

PLUGIN_MODULE = "pystep.kms.plugin"


def is_kms_name(name: str, *, kms_uri: str | None = None) -> bool:
    """step's rule: an existing file is a file; otherwise a name with a known scheme (or
    any name when ``--kms`` is given) is a KMS name."""
    if os.path.exists(name):
        return False
    if kms_uri:
        return True
    return has_scheme(name) in KNOWN_SCHEMES


@dataclass(frozen=True)
class Resolved:
    """A key name resolved to a backend: the module, the key URI and the --kms URI that
    applies to it (None when --kms is absent or names another scheme)."""

    module: str
    key_uri: KmsUri
    kms_uri: KmsUri | None


def _not_a_kms_name(name: str) -> KMSError:
    known = ", ".join(sorted(KNOWN_SCHEMES))
    return KMSError(f"{redact_uri(name)} is not a file and not a KMS URI (known schemes: {known})")


PATH_PREFIXES = ("/", "./", "../", "~")
"""A name starting like this is a file path, never a KMS key name (even with --kms)."""


def resolve(name: str, opts: KmsOptions) -> Resolved:
    """Pick the backend for ``name`` (see the module docstring for the rules)."""
    if name.startswith(PATH_PREFIXES) and has_scheme(name) is None:
        raise KMSError(f"open {redact_uri(name)}: no such file or directory")
    kms = parse(opts.kms_uri) if opts.kms_uri else None
    if kms is not None and kms.scheme not in KNOWN_SCHEMES:
        raise _not_a_kms_name(opts.kms_uri or "")
    scheme = has_scheme(name)
    if scheme in KNOWN_SCHEMES:
        key = parse(name)
        applies = kms if kms is not None and kms.scheme == key.scheme else None
    elif kms is not None:
        # A bare name (or an ARN-like "arn:…") is read relative to the --kms URI.
        key = replace(parse(f"{kms.scheme}:{name}"), raw=name)
        applies = kms
    else:
        raise _not_a_kms_name(name)
    module = BACKENDS.get(key.scheme, PLUGIN_MODULE)
    return Resolved(module=module, key_uri=key, kms_uri=applies)


def _import(module: str) -> ModuleType:
    return importlib.import_module(module)


def open_signer(name: str, opts: KmsOptions) -> Signer:
    """A Signer for the KMS key ``name``."""
    res = resolve(name, opts)
    try:
        mod = _import(res.module)
        return cast("Signer", mod.open_signer(res.key_uri, res.kms_uri, opts))
    except MissingExtraError:
        plugin = _plugin_fallback(res, opts)
        if plugin is None:
            raise
        return cast("Signer", plugin.open_signer(res.key_uri, res.kms_uri, opts))


def load_certificates(name: str, opts: KmsOptions) -> list[x509.Certificate]:
    """The certificate (chain, leaf first) stored under ``name`` in the KMS."""
    res = resolve(name, opts)
    try:
        mod = _import(res.module)
        loader = getattr(mod, "load_certificates", None)
        if loader is None:
            raise KMSError(f"{res.key_uri.scheme}: this KMS does not store certificates")
        return cast("list[x509.Certificate]", loader(res.key_uri, res.kms_uri, opts))
    except MissingExtraError:
        plugin = _plugin_fallback(res, opts)
        if plugin is None:
            raise
        return cast(
            "list[x509.Certificate]", plugin.load_certificates(res.key_uri, res.kms_uri, opts)
        )


def _plugin_fallback(res: Resolved, opts: KmsOptions) -> ModuleType | None:
    """When a native backend lacks its optional package, an installed step-kms-plugin
    can still serve the key (that is what step itself always does)."""
    if res.module == PLUGIN_MODULE:
        return None
    plugin = _import(PLUGIN_MODULE)
    if plugin.find_plugin(opts) is None:
        return None
    return plugin


# --- helpers for backends -------------------------------------------------------------


def param(
    key: str, key_uri: KmsUri, kms_uri: KmsUri | None, default: str | None = None
) -> str | None:
    """A parameter from the key URI, else from the --kms URI (key parameters win)."""
    value = key_uri.get(key)
    if value is None and kms_uri is not None:
        value = kms_uri.get(key)
    return default if value is None else value


def param_bytes(key: str, key_uri: KmsUri, kms_uri: KmsUri | None) -> bytes | None:
    """Like :func:`param` but via :meth:`KmsUri.get_bytes` (hex or percent-encoded)."""
    value = key_uri.get_bytes(key)
    if value is None and kms_uri is not None:
        value = kms_uri.get_bytes(key)
    return value


def get_pin(
    key_uri: KmsUri,
    kms_uri: KmsUri | None,
    opts: KmsOptions,
    *,
    what: str,
    default: str | None = None,
) -> str:
    """The PIN: ``pin-value``/``pin-source`` (key URI first), else ``pin-prompt`` or
    ``default`` or the prompter; with no way to get one, InteractionRequired.

    ``what`` names the thing in the prompt ("token 'mytoken'", "YubiKey")."""
    for uri in (key_uri, kms_uri):
        if uri is None:
            continue
        pin = uri.pin()
        if pin is not None:
            return pin
    prompt_text = param("pin-prompt", key_uri, kms_uri)
    explicit_prompt = prompt_text is not None
    if default is not None and not explicit_prompt:
        return default
    if opts.pin_prompter is None:
        raise InteractionRequired(
            f"the PIN for {what} is required: use pin-value or pin-source in the KMS URI"
        )
    return opts.pin_prompter(prompt_text or f"Please enter the PIN for {what}")


__all__ = [
    "BACKENDS",
    "PLUGIN_SCHEMES",
    "KmsOptions",
    "PinPrompter",
    "Resolved",
    "get_pin",
    "is_kms_name",
    "load_certificates",
    "open_signer",
    "param",
    "param_bytes",
    "resolve",
]
