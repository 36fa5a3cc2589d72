"""AWS KMS keys through boto3.

KMS URI: ``awskms:region=…;profile=…;credentials-file=…``; key name
``awskms:key-id=<id|arn|alias>``, ``awskms:<id>``, or a bare id/ARN read relative to
``--kms awskms:…``. GetPublicKey gives the SubjectPublicKeyInfo; Sign gets the digest
(``MessageType=DIGEST``) with ECDSA_SHA_256/384/512 or RSASSA_PKCS1_V1_5_SHA_256, or the
whole input with ED25519_SHA_512. ``AWS_ENDPOINT_URL_KMS``/``AWS_ENDPOINT_URL`` from the
options' environment override the endpoint (boto3 also reads them from os.environ).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pystep.errors import KMSError, MissingExtraError
from pystep.kms import KmsOptions, param
from pystep.kms._sig import DigestSigner
from pystep.kms.uri import KmsUri, has_scheme, redact_uri

_SIGNING_ALGS = {
    "ES256": "ECDSA_SHA_256",
    "ES384": "ECDSA_SHA_384",
    "ES512": "ECDSA_SHA_512",
    "RS256": "RSASSA_PKCS1_V1_5_SHA_256",
    "EdDSA": "ED25519_SHA_512",
}


def _boto3() -> Any:
    try:
        import boto3
    except ImportError:
        raise MissingExtraError("AWS KMS keys", "awskms", "boto3") from None
    return boto3


def key_id(key_uri: KmsUri) -> str:
    """The KeyId for the API from any accepted spelling of the key name."""
    explicit = key_uri.get("key-id")
    if explicit:
        return explicit
    raw = key_uri.raw
    if has_scheme(raw) == "awskms":
        opaque = raw[len("awskms:") :].split("?", 1)[0]
        if opaque and "=" not in opaque and ";" not in opaque:
            return opaque
        raise KMSError(f"awskms: key name '{redact_uri(raw)}' needs key-id=<id or ARN>")
    if not raw:
        raise KMSError("awskms: empty key name")
    return raw


def _client(key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions) -> Any:
    boto3 = _boto3()
    import botocore.session

    core = botocore.session.Session()
    credentials_file = param("credentials-file", key_uri, kms_uri)
    if credentials_file:
        core.set_config_variable("credentials_file", credentials_file)
    try:
        session = boto3.Session(
            botocore_session=core,
            profile_name=param("profile", key_uri, kms_uri),
            region_name=param("region", key_uri, kms_uri),
        )
        endpoint = opts.env.get("AWS_ENDPOINT_URL_KMS") or opts.env.get("AWS_ENDPOINT_URL")
        return session.client("kms", endpoint_url=endpoint or None)
    except Exception as exc:  # botocore raises many config-error types
        raise KMSError(f"awskms: cannot create the KMS client: {_describe(exc)}") from None


def _describe(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error", {})
        code, message = err.get("Code"), err.get("Message")
        if code:
            return f"{code}: {message}" if message else str(code)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _call(what: str, fn: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = fn(**kwargs)
    except Exception as exc:  # ClientError, NoCredentialsError, EndpointConnectionError…
        raise KMSError(f"awskms: {what} failed: {_describe(exc)}") from None
    return result


class AwsKmsSigner(DigestSigner):
    """A DigestSigner whose signatures come from ``kms:Sign``."""

    def __init__(self, client: Any, key: str, public_key: Any) -> None:
        self._client = client
        self._key = key
        super().__init__(public_key, self._remote_sign, ec_format="der")
        self._signing_alg = _SIGNING_ALGS[self.alg]

    def _remote_sign(self, message: bytes) -> bytes:
        kind = "RAW" if self.alg == "EdDSA" else "DIGEST"
        out = _call(
            "Sign",
            self._client.sign,
            KeyId=self._key,
            Message=message,
            MessageType=kind,
            SigningAlgorithm=self._signing_alg,
        )
        return bytes(out["Signature"])


def open_signer(key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions) -> AwsKmsSigner:
    """A signer over the asymmetric SIGN_VERIFY KMS key named by ``key_uri``."""
    key = key_id(key_uri)
    client = _client(key_uri, kms_uri, opts)
    out = _call("GetPublicKey", client.get_public_key, KeyId=key)
    if out.get("KeyUsage", "SIGN_VERIFY") != "SIGN_VERIFY":
        raise KMSError(f"awskms: key {key} is not a signing key (KeyUsage {out['KeyUsage']})")
    try:
        public_key = serialization.load_der_public_key(bytes(out["PublicKey"]))
    except (KeyError, ValueError):
        raise KMSError(f"awskms: cannot parse the public key of {key}") from None
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey
                      | ed25519.Ed25519PublicKey):  # fmt: skip
        raise KMSError(f"awskms: unsupported key type {out.get('KeySpec', '?')} for {key}")
    return AwsKmsSigner(client, key, public_key)
