"""TPM 2.0 keys (``tpmkms:``) through the tpm2-tools commands.

Why tpm2-tools and not tpm2-pytss: tpm2-pytss is published only as an sdist that needs
``libtss2-dev`` and a compiler, and pulls in a large binding; the ``tpm2-tools`` Debian
package is one ``apt install`` away, is what administrators already use to inspect a TPM,
and a token needs just one signature, so a few short-lived processes cost nothing that
matters (~0.2 s per signature).

Which TPM: the ``device`` parameter of the KMS URI — a device path (``/dev/tpmrm0`` →
TCTI ``device:/dev/tpmrm0``) or a full TCTI string (``swtpm:host=127.0.0.1,port=2321``,
``mssim:…``, ``tabrmd:``) — else ``$TPM2TOOLS_TCTI``, else the tools' default.

Key storage (pystep's own layout; step's tpmkms keeps a different, JSON-based store)::

    <storage-directory>/<name>.pub    TPM2B_PUBLIC  (from tpm2_create -u)
    <storage-directory>/<name>.priv   TPM2B_PRIVATE (from tpm2_create -r; sealed to this TPM)

The key is a child of the owner-hierarchy primary key made from a fixed template (ECC
P-256 storage key, AES-128-CFB, SHA-256). The primary is re-derived on every use — a TPM
derives the same primary from the same template — so nothing is made persistent in the
TPM's NV memory. ``storage-directory`` defaults to ``$STEPPATH/tpm``. Keys have no
authorization value and are created with :func:`create_key`.

Without a resource manager (e.g. a raw ``swtpm`` socket), objects the tools load stay in
the TPM, which has only ~3 transient slots; every step therefore flushes the transient
handles it added.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from pystep.errors import KMSError
from pystep.jose.signer import PublicKey
from pystep.kms import KmsOptions, param
from pystep.kms._sig import DigestSigner, alg_for_key
from pystep.kms.uri import KmsUri, parse, redact_uri

SCHEME = "tpmkms"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_PRIMARY = [
    "-C", "o", "-g", "sha256", "-G", "ecc256:null:aes128cfb",
    "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|decrypt|noda",
]  # fmt: skip
_KEY_ATTRS = "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign"
_CREATE_ALGS = {
    "ES256": "ecc256:ecdsa-sha256",
    "ES384": "ecc384:ecdsa-sha384",
    "RS256": "rsa2048:rsassa-sha256",
}
_TIMEOUT = 60


@dataclass(frozen=True)
class _Tpm:
    """How to reach one TPM: the TCTI (None = tools' default) and the key directory."""

    tcti: str | None
    storage: str

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.tcti:
            env["TPM2TOOLS_TCTI"] = self.tcti
        return env

    def run(self, args: list[str]) -> subprocess.CompletedProcess[bytes]:
        tool = args[0]
        try:
            proc = subprocess.run(
                args, env=self.env(), capture_output=True, timeout=_TIMEOUT, check=False
            )
        except FileNotFoundError:
            raise KMSError(
                f"tpmkms: {tool} not found", hint="install tpm2-tools (apt install tpm2-tools)"
            ) from None
        except subprocess.TimeoutExpired:
            raise KMSError(f"tpmkms: {tool} timed out talking to the TPM") from None
        if proc.returncode != 0:
            raise self._error(tool, proc.stderr.decode("utf-8", "replace"))
        return proc

    def _error(self, tool: str, stderr: str) -> KMSError:
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        if any("Could not load tcti" in ln for ln in lines):
            where = self.tcti or "the default TCTI"
            reason = _tcti_reason(lines)
            return KMSError(
                f"tpmkms: cannot reach a TPM through {where}" + (f": {reason}" if reason else ""),
                hint="set device= in the --kms URI or TPM2TOOLS_TCTI",
            )
        last = next((ln for ln in reversed(lines) if ln.startswith("ERROR:")), "")
        detail = last.removeprefix("ERROR:").strip() or "failed"
        # A key blob that is not from this TPM fails its integrity check on load.
        if tool == "tpm2_load" and "integrity" in stderr:
            detail = "the key was not created by this TPM (or its files are damaged)"
        return KMSError(f"tpmkms: {tool}: {detail}")

    def transient(self) -> set[str]:
        out = self.run(["tpm2_getcap", "handles-transient"]).stdout.decode()
        return set(re.findall(r"0x[0-9a-fA-F]+", out))

    def step(self, args: list[str], baseline: set[str]) -> subprocess.CompletedProcess[bytes]:
        """Run one tool, then flush the transient objects it left behind."""
        try:
            return self.run(args)
        finally:
            try:
                for handle in sorted(self.transient() - baseline):
                    self.run(["tpm2_flushcontext", handle])
            except KMSError:
                pass

    def with_key(self, name: str, action: Callable[[str, set[str]], bytes]) -> bytes:
        """Load key ``name`` under the primary and run ``action(key_context, baseline)``."""
        pub, priv = key_paths(self.storage, name)
        if not (os.path.isfile(pub) and os.path.isfile(priv)):
            raise KMSError(f"tpmkms: key '{name}' not found in {self.storage}")
        with tempfile.TemporaryDirectory(prefix="pystep-tpm-") as tmp:
            primary, key = os.path.join(tmp, "primary.ctx"), os.path.join(tmp, "key.ctx")
            baseline = self.transient()
            self.step(["tpm2_createprimary", "-Q", *_PRIMARY, "-c", primary], baseline)
            load = ["tpm2_load", "-Q", "-C", primary, "-u", pub, "-r", priv, "-c", key]
            self.step(load, baseline)
            return action(key, baseline)


def key_paths(storage: str, name: str) -> tuple[str, str]:
    """The ``.pub`` and ``.priv`` files of key ``name``."""
    if not _NAME.match(name):
        raise KMSError(f"tpmkms: invalid key name '{name}'")
    base = os.path.join(storage, name)
    return base + ".pub", base + ".priv"


def _tcti_reason(lines: list[str]) -> str:
    for ln in lines:
        m = re.search(r"(Failed to connect[^:]*|Failed to open [^:]*: .*|Cannot connect .*)$", ln)
        if m:
            return m.group(1).strip()
    return ""


def _tcti(device: str | None, opts: KmsOptions) -> str | None:
    if device:
        if device.startswith("/"):
            return f"device:{device}"
        return device
    return opts.env.get("TPM2TOOLS_TCTI") or None


def _steppath(opts: KmsOptions) -> str:
    return (
        opts.steppath or opts.env.get("STEPPATH") or os.path.join(os.path.expanduser("~"), ".step")
    )


def _resolve(key_uri: KmsUri | None, kms_uri: KmsUri | None, opts: KmsOptions) -> _Tpm:
    def get(name: str) -> str | None:
        if key_uri is not None:
            return param(name, key_uri, kms_uri)
        return kms_uri.get(name) if kms_uri is not None else None

    storage = get("storage-directory") or os.path.join(_steppath(opts), "tpm")
    return _Tpm(tcti=_tcti(get("device"), opts), storage=os.path.expanduser(storage))


def _key_name(key_uri: KmsUri) -> str:
    name = key_uri.get("name")
    if not name:
        raise KMSError(f"tpmkms: key URI '{redact_uri(key_uri.raw)}' has no name=")
    return name


_HASH = {"ES256": "sha256", "ES384": "sha384", "RS256": "sha256"}


def _read_public(tpm: _Tpm, name: str) -> PublicKey:
    def readpublic(key_ctx: str, baseline: set[str]) -> bytes:
        with tempfile.TemporaryDirectory(prefix="pystep-tpm-") as tmp:
            out = os.path.join(tmp, "key.pem")
            tpm.step(["tpm2_readpublic", "-Q", "-c", key_ctx, "-f", "pem", "-o", out], baseline)
            with open(out, "rb") as fh:
                return fh.read()

    return load_pem_public_key(tpm.with_key(name, readpublic))  # type: ignore[return-value]


def _tpm_sign(tpm: _Tpm, name: str, alg: str, msg_digest: bytes) -> bytes:
    """Sign a digest with key ``name``: DER for ECDSA, PKCS#1 v1.5 bytes for RSA."""

    def run_sign(key_ctx: str, baseline: set[str]) -> bytes:
        with tempfile.TemporaryDirectory(prefix="pystep-tpm-") as tmp:
            dig, sig = os.path.join(tmp, "digest.bin"), os.path.join(tmp, "sig.bin")
            with open(dig, "wb") as fh:
                fh.write(msg_digest)
            scheme = "rsassa" if alg == "RS256" else "ecdsa"
            args = ["tpm2_sign", "-Q", "-c", key_ctx, "-g", _HASH[alg], "-s", scheme]
            tpm.step([*args, "-d", "-f", "plain", "-o", sig, dig], baseline)
            with open(sig, "rb") as fh:
                return fh.read()

    return tpm.with_key(name, run_sign)


def open_signer(key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions) -> DigestSigner:
    """The signer for ``tpmkms:name=<n>``. Reading the public key loads the key into the
    TPM, so an unreachable TPM or a foreign key fails here rather than at signing time."""
    tpm = _resolve(key_uri, kms_uri, opts)
    name = _key_name(key_uri)
    public = _read_public(tpm, name)
    alg = alg_for_key(public)
    if alg not in _HASH:
        raise KMSError(f"tpmkms: key '{name}' has an unsupported type ({alg})")
    return DigestSigner(public, lambda d: _tpm_sign(tpm, name, alg, d), ec_format="der")


def create_key(name: str, opts: KmsOptions, *, alg: str = "ES256") -> PublicKey:
    """Create TPM key ``name`` (ES256, ES384 or RS256) in the storage directory of
    ``opts.kms_uri`` and return its public key. Refuses to overwrite an existing key."""
    if alg not in _CREATE_ALGS:
        raise KMSError(f"tpmkms: cannot create a {alg} key (use ES256, ES384 or RS256)")
    kms_uri = parse(opts.kms_uri) if opts.kms_uri else None
    tpm = _resolve(None, kms_uri, opts)
    pub, priv = key_paths(tpm.storage, name)
    if os.path.exists(pub) or os.path.exists(priv):
        raise KMSError(f"tpmkms: key '{name}' already exists in {tpm.storage}")
    os.makedirs(tpm.storage, mode=0o700, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pystep-tpm-") as tmp:
        primary = os.path.join(tmp, "primary.ctx")
        tmp_pub, tmp_priv = os.path.join(tmp, "key.pub"), os.path.join(tmp, "key.priv")
        baseline = tpm.transient()
        tpm.step(["tpm2_createprimary", "-Q", *_PRIMARY, "-c", primary], baseline)
        create = ["tpm2_create", "-Q", "-C", primary, "-G", _CREATE_ALGS[alg]]
        create += ["-a", _KEY_ATTRS, "-u", tmp_pub, "-r", tmp_priv]
        tpm.step(create, baseline)
        shutil.copyfile(tmp_priv, priv)
        os.chmod(priv, 0o600)
        shutil.copyfile(tmp_pub, pub)
    return _read_public(tpm, name)
