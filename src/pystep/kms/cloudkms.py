"""Google Cloud KMS keys (``cloudkms:``) through google-cloud-kms.

KMS URI: ``cloudkms:credentials-file=<service account or ADC json>`` (without it the
client uses Application Default Credentials). Key name: the key *version* resource
``projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>/cryptoKeyVersions/<n>``, bare
(with ``--kms``), after ``cloudkms:``, or as ``resource=``.

``GetPublicKey`` gives the PEM public key and the version's algorithm;
``AsymmetricSign`` signs the SHA-256/384 digest (the whole input for Ed25519) and returns
DER for ECDSA, converted to JOSE ``R||S``. Only algorithms that match a JWS ``alg`` are
accepted: EC P-256/SHA-256, P-384/SHA-384, RSA PKCS#1 v1.5 with SHA-256, Ed25519.
"""

from __future__ import annotations

import json
import os
import re
import warnings
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from pystep.errors import KMSError, MissingExtraError
from pystep.kms import KmsOptions, param
from pystep.kms._sig import DigestSigner, alg_for_key, hash_for_alg
from pystep.kms.uri import KmsUri, redact_uri

_RESOURCE = re.compile(
    r"^projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+/cryptoKeyVersions/[^/]+$"
)
_TIMEOUT = 30.0
_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# JWS alg -> the Cloud KMS algorithms that produce exactly its signatures.
_ALGORITHMS = {
    "ES256": {"EC_SIGN_P256_SHA256"},
    "ES384": {"EC_SIGN_P384_SHA384"},
    "RS256": {"RSA_SIGN_PKCS1_2048_SHA256", "RSA_SIGN_PKCS1_3072_SHA256",
              "RSA_SIGN_PKCS1_4096_SHA256"},
    "EdDSA": {"EC_SIGN_ED25519"},
}  # fmt: skip

ClientFactory = Callable[[str | None], Any]
"""``credentials-file or None`` → a ``KeyManagementServiceClient``."""


def _api_error_types() -> tuple[type[BaseException], ...]:
    from google.api_core.exceptions import GoogleAPIError
    from google.auth.exceptions import GoogleAuthError

    return (GoogleAPIError, GoogleAuthError)


def _one_line(exc: BaseException) -> str:
    text = (getattr(exc, "message", None) or str(exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__


def default_client(credentials_file: str | None) -> Any:
    """The real SDK client; credentials from the file, else Application Default."""
    try:
        from google.cloud import kms
    except ImportError:
        raise MissingExtraError("cloudkms: keys", "cloudkms", "google-cloud-kms") from None
    errors: tuple[type[BaseException], ...] = (*_api_error_types(), ValueError)
    try:
        if credentials_file:
            return kms.KeyManagementServiceClient(credentials=_load_credentials(credentials_file))
        return kms.KeyManagementServiceClient()
    except errors as exc:
        raise KMSError(f"cloudkms: cannot load Google credentials: {_one_line(exc)}") from None


def _load_credentials(path: str) -> Any:
    """Credentials from a JSON file, as Go's ``option.WithCredentialsFile`` reads it."""
    import google.auth
    from google.oauth2 import credentials, service_account

    auth: Any = google.auth  # untyped SDK functions
    user: Any = credentials.Credentials
    account: Any = service_account.Credentials

    try:
        with open(os.path.expanduser(path), "rb") as fh:
            kind = json.load(fh).get("type")
    except (OSError, ValueError, AttributeError) as exc:
        raise KMSError(f"cloudkms: cannot read credentials-file {path}: {_one_line(exc)}") from None
    if kind == "service_account":
        return account.from_service_account_file(path, scopes=[_SCOPE])
    if kind == "authorized_user":
        return user.from_authorized_user_file(path, scopes=[_SCOPE])
    # Other types (external_account, impersonation): the file is the user's own choice.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        creds, _ = auth.load_credentials_from_file(path, scopes=[_SCOPE])
    return creds


def resource_name(key_uri: KmsUri) -> str:
    """The key version resource from ``resource=`` or the bare opaque part."""
    name = key_uri.get("resource")
    if name is None:
        bare = [p for p in key_uri.opaque.split(";") if p and "=" not in p]
        name = bare[0].lstrip("/") if bare else ""
    if not _RESOURCE.match(name):
        raise KMSError(
            f"cloudkms: '{redact_uri(name or key_uri.raw)}' is not a key version resource name "
            "(projects/…/locations/…/keyRings/…/cryptoKeys/…/cryptoKeyVersions/N)"
        )
    return name


def _get_public_key(client: Any, name: str) -> tuple[Any, str]:
    try:
        resp = client.get_public_key(request={"name": name}, timeout=_TIMEOUT)
    except _api_error_types() as exc:
        raise KMSError(f"cloudkms: GetPublicKey {name}: {_one_line(exc)}") from None
    algorithm = getattr(resp.algorithm, "name", str(resp.algorithm))
    try:
        public = load_pem_public_key(resp.pem.encode())
    except ValueError:
        raise KMSError(f"cloudkms: GetPublicKey {name}: unreadable PEM public key") from None
    return public, algorithm


def _signer(client: Any, name: str) -> DigestSigner:
    public, algorithm = _get_public_key(client, name)
    try:
        alg = alg_for_key(public)
    except KMSError:
        alg = ""
    if algorithm not in _ALGORITHMS.get(alg, set()):
        raise KMSError(f"cloudkms: key algorithm {algorithm} cannot sign tokens")
    hash_alg = hash_for_alg(alg)

    def sign(message: bytes) -> bytes:
        request: dict[str, Any] = {"name": name}
        if hash_alg is None:
            request["data"] = message
        else:
            request["digest"] = {hash_alg.name: message}
        try:
            resp = client.asymmetric_sign(request=request, timeout=_TIMEOUT)
        except _api_error_types() as exc:
            raise KMSError(f"cloudkms: AsymmetricSign {name}: {_one_line(exc)}") from None
        return bytes(resp.signature)

    return DigestSigner(public, sign, ec_format="der")


def open_signer(
    key_uri: KmsUri,
    kms_uri: KmsUri | None,
    opts: KmsOptions,
    *,
    client_factory: ClientFactory | None = None,
) -> DigestSigner:
    """The signer for a Cloud KMS key version. ``client_factory`` replaces
    :func:`default_client` (tests, or a caller with its own client settings)."""
    name = resource_name(key_uri)
    creds = param("credentials-file", key_uri, kms_uri)
    client = (client_factory or default_client)(creds)
    return _signer(client, name)
