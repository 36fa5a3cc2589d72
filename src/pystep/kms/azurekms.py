"""Azure Key Vault keys (``azurekms:``) through azure-keyvault-keys and azure-identity.

KMS URI: ``azurekms:tenant-id=<t>;client-id=<c>;client-secret=<s>`` (a service
principal), ``environment=<AzurePublicCloud|AzureChinaCloud|AzureUSGovernmentCloud|
AzureGermanCloud>``, ``aad-endpoint=<authority host>``. Without a client secret the
``DefaultAzureCredential`` chain is used (``AZURE_*`` environment variables, managed
identity — with ``client-id`` as its client id —, Azure CLI…). Key name:
``azurekms:name=<key>;vault=<vault>[;version=<v>][;hsm=true]``; ``vault`` is the vault
name (``https://<vault>.vault.azure.net/``) or a full ``https://`` URL.

``KeyClient.get_key`` gives the JWK (public key) and resolves the version that then signs,
``CryptographyClient.sign(ES256|ES384|ES512|RS256, digest)`` returns ECDSA signatures
already as raw ``R||S``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from pystep.errors import KMSError, MissingExtraError
from pystep.jose.signer import PublicKey
from pystep.kms import KmsOptions, param
from pystep.kms._sig import DigestSigner, alg_for_key
from pystep.kms.uri import KmsUri, redact_uri

# environment -> (vault DNS suffix, managed HSM DNS suffix, AAD authority host)
_CLOUDS = {
    "azurepubliccloud": ("vault.azure.net", "managedhsm.azure.net", "login.microsoftonline.com"),
    "azurechinacloud": ("vault.azure.cn", "managedhsm.azure.cn", "login.chinacloudapi.cn"),
    "azureusgovernmentcloud": (
        "vault.usgovcloudapi.net",
        "managedhsm.usgovcloudapi.net",
        "login.microsoftonline.us",
    ),
    "azuregermancloud": ("vault.microsoftazure.de", "", "login.microsoftonline.de"),
}
_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}

ClientFactory = Callable[[str, Any], Any]
"""``(vault_url, credential)`` → an ``azure.keyvault.keys.KeyClient``."""


def _sdk() -> Any:
    try:
        import azure.keyvault.keys as keys
    except ImportError:
        raise MissingExtraError("azurekms: keys", "azurekms", "azure-keyvault-keys") from None
    return keys


def _one_line(exc: BaseException) -> str:
    text = (getattr(exc, "message", None) or str(exc)).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _cloud(key_uri: KmsUri, kms_uri: KmsUri | None) -> tuple[str, str, str]:
    env = param("environment", key_uri, kms_uri, "AzurePublicCloud") or "AzurePublicCloud"
    cloud = _CLOUDS.get(env.lower())
    if cloud is None:
        raise KMSError(f"azurekms: unknown environment '{env}'")
    return cloud


def vault_url(key_uri: KmsUri, kms_uri: KmsUri | None) -> str:
    """``https://<vault>.<suffix>/`` for the key's vault (``hsm=true``: managed HSM)."""
    vault = param("vault", key_uri, kms_uri)
    if not vault:
        raise KMSError(f"azurekms: key URI '{redact_uri(key_uri.raw)}' has no vault=")
    if vault.startswith("https://"):
        return vault.rstrip("/") + "/"
    if not all(c.isalnum() or c == "-" for c in vault):
        raise KMSError(f"azurekms: invalid vault name '{vault}'")
    vault_dns, hsm_dns, _ = _cloud(key_uri, kms_uri)
    hsm = (param("hsm", key_uri, kms_uri) or "").lower() == "true"
    if hsm and not hsm_dns:
        raise KMSError("azurekms: managed HSM is not available in this environment")
    return f"https://{vault}.{hsm_dns if hsm else vault_dns}/"


def make_credential(key_uri: KmsUri, kms_uri: KmsUri | None) -> Any:
    """A service-principal credential when a client secret is given, else the default
    chain. Building a credential does not contact Azure."""
    try:
        import azure.identity as identity
    except ImportError:
        raise MissingExtraError("azurekms: keys", "azurekms", "azure-identity") from None
    tenant = param("tenant-id", key_uri, kms_uri)
    client = param("client-id", key_uri, kms_uri)
    secret = param("client-secret", key_uri, kms_uri)
    authority = param("aad-endpoint", key_uri, kms_uri) or _cloud(key_uri, kms_uri)[2]
    if secret is not None:
        if not tenant or not client:
            raise KMSError("azurekms: client-secret needs tenant-id and client-id")
        return identity.ClientSecretCredential(tenant, client, secret, authority=authority)
    kwargs: dict[str, Any] = {"authority": authority}
    if client:
        kwargs["managed_identity_client_id"] = client
    return identity.DefaultAzureCredential(**kwargs)


def default_client(url: str, credential: Any) -> Any:
    """The real SDK client."""
    return _sdk().KeyClient(vault_url=url, credential=credential)


def jwk_to_public_key(jwk: Any) -> PublicKey:
    """A Key Vault ``JsonWebKey`` (EC/EC-HSM, RSA/RSA-HSM) → a cryptography public key."""
    kty = str(getattr(jwk.kty, "value", jwk.kty) or "")
    if kty.startswith("EC"):
        crv = str(getattr(jwk.crv, "value", jwk.crv) or "")
        if crv not in _CURVES:
            raise KMSError(f"azurekms: unsupported curve '{crv}'")
        nums = ec.EllipticCurvePublicNumbers(
            int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"), _CURVES[crv]
        )
        return nums.public_key()
    if kty.startswith("RSA"):
        return rsa.RSAPublicNumbers(
            int.from_bytes(jwk.e, "big"), int.from_bytes(jwk.n, "big")
        ).public_key()
    raise KMSError(f"azurekms: unsupported key type '{kty}'")


def open_signer(
    key_uri: KmsUri,
    kms_uri: KmsUri | None,
    opts: KmsOptions,
    *,
    client_factory: ClientFactory | None = None,
) -> DigestSigner:
    """The signer for ``azurekms:name=…;vault=…``. ``client_factory`` replaces
    :func:`default_client` (tests, or a caller with its own pipeline settings)."""
    name = param("name", key_uri, kms_uri)
    if not name:
        raise KMSError(f"azurekms: key URI '{redact_uri(key_uri.raw)}' has no name=")
    version = param("version", key_uri, kms_uri) or None
    url = vault_url(key_uri, kms_uri)
    keys = _sdk()
    from azure.core.exceptions import AzureError
    from azure.keyvault.keys.crypto import SignatureAlgorithm

    client = (client_factory or default_client)(url, make_credential(key_uri, kms_uri))
    try:
        key = client.get_key(name, version)
    except AzureError as exc:
        raise KMSError(f"azurekms: get key {name} from {url}: {_one_line(exc)}") from None
    if not isinstance(key, keys.KeyVaultKey) or key.key is None:
        raise KMSError(f"azurekms: key {name} has no public key")
    public = jwk_to_public_key(key.key)
    alg = alg_for_key(public)
    resolved_version = key.properties.version or version
    crypto = client.get_cryptography_client(name, key_version=resolved_version)
    algorithm = SignatureAlgorithm(alg)

    def sign(digest: bytes) -> bytes:
        try:
            result = crypto.sign(algorithm, digest)
        except AzureError as exc:
            raise KMSError(f"azurekms: sign with key {name}: {_one_line(exc)}") from None
        return bytes(result.signature)

    return DigestSigner(public, sign, ec_format="raw")
