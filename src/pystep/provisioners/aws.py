"""AWS provisioners: a JWT wrapping the EC2 instance identity document.

The document and its signature come from IMDS (v2 with a session token, v1 plain GET, in
the order the provisioner's ``imdsVersions`` gives; default ``["v2", "v1"]``). The signature
is checked against AWS's certificates (or the provisioner's ``iidRoots`` file) before use,
then the token is signed HS256 with the raw signature bytes as the key — the CA checks that
HMAC, then the document signature. Claims and their order are step's.

Base URL: ``ctx.extra["aws_metadata_url"]``, ``$PYSTEP_AWS_METADATA_URL`` or
``http://169.254.169.254``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from pystep import _http, _json
from pystep.errors import InputError, ProvisionerError
from pystep.jose.encoding import b64url_encode
from pystep.provisioners._cloud import metadata_base, metadata_request, sign_audience
from pystep.provisioners.base import MintContext, ProvisionerRecord
from pystep.request import TokenRequest

TOKEN_PATH = "/latest/api/token"
DOCUMENT_PATH = "/latest/dynamic/instance-identity/document"
SIGNATURE_PATH = "/latest/dynamic/instance-identity/signature"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
TOKEN_TTL = "30"
ISSUER = "ec2.amazonaws.com"
_QUESTION = "is this an EC2 instance with the metadata service enabled?"


def _go_json(obj: Any) -> bytes:
    """Go's encoding/json of a struct: fields in declaration order, HTML characters escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode("utf-8")


def load_certificates(iid_roots: str | None) -> list[Any]:
    """AWS's certificates (built in), or those of the ``iidRoots`` PEM file."""
    from cryptography import x509

    if iid_roots:
        try:
            with open(iid_roots, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            raise InputError(f"error reading {iid_roots}: {exc.strerror or exc}") from exc
    else:
        from pystep.provisioners._aws_certs import AWS_IID_CERTIFICATES

        data = AWS_IID_CERTIFICATES.encode("ascii")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InputError("error parsing AWS IID certificate: no certificates found") from exc
    return list(certs)


def verify_document(document: bytes, signature: bytes, certs: list[Any]) -> None:
    """RSA PKCS#1 v1.5 SHA-256 by any of ``certs``, as the CA will check it."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    for cert in certs:
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            continue
        try:
            key.verify(signature, document, padding.PKCS1v15(), hashes.SHA256())
            return
        except InvalidSignature:
            continue
    raise ProvisionerError("error validating identity document signature")


@dataclass
class AWSMinter:
    record: ProvisionerRecord
    base: str
    versions: tuple[str, ...]
    certificates: list[Any]
    audience: str
    ctx: MintContext

    def _get_v2(self, url: str) -> _http.HTTPResponse:
        resp = metadata_request("PUT", self.base + TOKEN_PATH, {TTL_HEADER: TOKEN_TTL},
                                cloud="AWS", question=_QUESTION)
        if not resp.ok:
            return resp
        return metadata_request("GET", url, {TOKEN_HEADER: resp.text()}, cloud="AWS",
                                question=_QUESTION)

    def read(self, path: str) -> bytes:
        """One metadata path, trying each allowed IMDS version in turn."""
        url = self.base + path
        tried: list[str] = []
        for version in self.versions:
            if version == "v2":
                resp = self._get_v2(url)
            else:
                resp = metadata_request("GET", url, {}, cloud="AWS", question=_QUESTION)
            if resp.ok:
                return resp.body
            tried.append(f"IMDS{version} status {resp.status}")
        raise ProvisionerError(
            f"error retrieving the instance identity document: {', '.join(tried)}",
            hint="is the metadata service enabled, with a version the provisioner's "
            "imdsVersions allows?",
        )

    def mint(self, req: TokenRequest) -> str:
        document = self.read(DOCUMENT_PATH)
        try:
            instance_id = _json.loads(document)["instanceId"]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProvisionerError("error unmarshaling identity document") from exc
        try:
            signature = base64.b64decode(self.read(SIGNATURE_PATH).strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProvisionerError("error decoding identity document signature") from exc
        verify_document(document, signature, self.certificates)
        return build_token(
            document, signature, subject=req.subject, audience=self.audience,
            jti_source=f"aws/{self.record.name}.{instance_id}",
            now=int(self.ctx.now().timestamp()),
        )


def build_token(
    document: bytes, signature: bytes, *, subject: str, audience: str, jti_source: str,
    now: int,
) -> str:
    """step's AWS token: HS256 over the claims, keyed by the document signature."""
    claims: dict[str, Any] = {"iss": ISSUER}
    if subject:
        claims["sub"] = subject
    claims.update(
        aud=audience,
        exp=now + 300,
        nbf=now,
        iat=now,
        jti=hashlib.sha256(jti_source.encode("utf-8")).hexdigest(),
        amazon={
            "document": base64.b64encode(document).decode("ascii"),
            "signature": base64.b64encode(signature).decode("ascii"),
        },
        sans=None,
    )
    header = b64url_encode(_go_json({"alg": "HS256", "typ": "JWT"}))
    payload = b64url_encode(_go_json(claims))
    signing_input = f"{header}.{payload}".encode("ascii")
    mac = hmac.new(signature, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url_encode(mac)}"


def prepare(record: ProvisionerRecord, ctx: MintContext) -> AWSMinter:
    raw_versions = record.raw.get("imdsVersions") or ["v2", "v1"]
    if not isinstance(raw_versions, list):
        raise ProvisionerError("invalid AWS provisioner: 'imdsVersions' must be a list")
    for v in raw_versions:
        if v not in ("v1", "v2"):
            raise ProvisionerError(f"{v}: not a supported AWS Instance Metadata Service version")
    roots = record.raw.get("iidRoots")
    return AWSMinter(
        record=record,
        base=metadata_base(ctx, "aws_metadata_url", "PYSTEP_AWS_METADATA_URL",
                           "http://169.254.169.254"),
        versions=tuple(raw_versions),
        certificates=load_certificates(roots if isinstance(roots, str) else None),
        audience=sign_audience(ctx, f"aws/{record.name}"),
        ctx=ctx,
    )
