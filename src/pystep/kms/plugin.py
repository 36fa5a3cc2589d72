"""The step-kms-plugin bridge: what step itself does for every KMS name.

The plugin is ``<steppath>/plugins/step-kms-plugin`` or the first one on ``PATH``:

* ``key [--kms <uri>] <name>`` prints a PEM public key;
* ``sign --format base64 [--kms <uri>] [--alg SHA256] <name>`` reads the digest (ECDSA,
  RSA) or the whole signing input (Ed25519) on stdin and prints a base64 signature
  (DER for ECDSA, converted here to JOSE ``R||S``);
* ``certificate [--kms <uri>] <name>`` prints a PEM bundle.

A failure reads ``command "<cmdline>" failed with: <first line of stderr>``, with
secret URI values (pin-value, management-key, client-secret) masked.
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
import subprocess
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pystep.errors import KMSError
from pystep.kms import KmsOptions
from pystep.kms._sig import DigestSigner, hash_name
from pystep.kms.uri import KmsUri, redact, redact_uri, secret_values

PLUGIN = "step-kms-plugin"
TIMEOUT = 600.0  # a hardware token may wait for a touch
MAX_OUTPUT = 1 << 20


def _steppath(opts: KmsOptions) -> str:
    if opts.steppath:
        return opts.steppath
    env_path = opts.env.get("STEPPATH")
    if env_path:
        return env_path
    return os.path.join(os.path.expanduser("~"), ".step")


def _candidates(directory: str, env: KmsOptions) -> list[str]:
    base = os.path.join(directory, PLUGIN)
    if os.name != "nt":
        return [base]
    exts = (env.env.get("PATHEXT") or ".com;.exe;.bat;.cmd;.ps1").split(os.pathsep)
    return [base + ext for ext in exts if ext]


def find_plugin(opts: KmsOptions) -> str | None:
    """The plugin executable: ``<steppath>/plugins`` first, then ``PATH``; None if absent."""
    for path in _candidates(os.path.join(_steppath(opts), "plugins"), opts):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which(PLUGIN, path=opts.env.get("PATH", os.defpath))


def _plugin(name: str, opts: KmsOptions) -> str:
    path = find_plugin(opts)
    if path is None:
        plugins = os.path.join(_steppath(opts), "plugins")
        raise KMSError(
            f"{redact_uri(name)}: {PLUGIN} is needed for this key but was not found "
            f"in {plugins} or in PATH"
        )
    return path


def run(plugin: str, args: Sequence[str], opts: KmsOptions, stdin: bytes = b"") -> bytes:
    """Run the plugin; its stdout, or a KMSError in step's wording."""
    argv = [plugin, *args]
    secrets = secret_values(args)
    cmdline = redact(" ".join(argv), secrets)
    try:
        proc = subprocess.run(
            argv,
            input=stdin,
            capture_output=True,
            env=dict(opts.env),
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise KMSError(f'command "{cmdline}" failed with: {redact(reason, secrets)}') from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = lines[0] if lines else f"exit status {proc.returncode}"
        raise KMSError(f'command "{cmdline}" failed with: {redact(reason, secrets)}')
    if len(proc.stdout) > MAX_OUTPUT:
        raise KMSError(f'command "{cmdline}" printed more than {MAX_OUTPUT} bytes')
    return proc.stdout


def _kms_args(opts: KmsOptions) -> list[str]:
    return ["--kms", opts.kms_uri] if opts.kms_uri else []


class PluginSigner(DigestSigner):
    """Signs by running ``step-kms-plugin sign``."""

    def __init__(
        self, plugin: str, name: str, opts: KmsOptions, public_key: ec.EllipticCurvePublicKey
        | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
    ) -> None:  # fmt: skip
        self._plugin = plugin
        self._name = name
        self._opts = opts
        super().__init__(public_key, self._remote_sign, ec_format="der")

    def _remote_sign(self, message: bytes) -> bytes:
        args = ["sign", "--format", "base64", *_kms_args(self._opts)]
        if self.alg == "RS256":
            args += ["--alg", hash_name(self.alg)]
        out = run(self._plugin, [*args, self._name], self._opts, stdin=message)
        try:
            return base64.b64decode(out.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KMSError(f"{PLUGIN} sign printed an invalid base64 signature") from None


def public_key(plugin: str, name: str, opts: KmsOptions) -> PluginSigner:
    out = run(plugin, ["key", *_kms_args(opts), name], opts)
    try:
        key = serialization.load_pem_public_key(out)
    except ValueError:
        raise KMSError(
            f"{PLUGIN} key did not print a PEM public key for {redact_uri(name)}"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey
                      | ed25519.Ed25519PublicKey):  # fmt: skip
        raise KMSError(f"unsupported key type {type(key).__name__} for {redact_uri(name)}")
    return PluginSigner(plugin, name, opts, key)


def open_signer(key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions) -> PluginSigner:
    """A signer over the plugin; the name and --kms go to it exactly as the user gave them."""
    name = key_uri.raw
    return public_key(_plugin(name, opts), name, opts)


def load_certificates(
    key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions
) -> list[x509.Certificate]:
    """``step-kms-plugin certificate`` → the PEM bundle, leaf first."""
    name = key_uri.raw
    out = run(_plugin(name, opts), ["certificate", *_kms_args(opts), name], opts)
    try:
        certs = x509.load_pem_x509_certificates(out)
    except ValueError:
        raise KMSError(
            f"{PLUGIN} certificate printed no PEM certificate for {redact_uri(name)}"
        ) from None
    return certs
