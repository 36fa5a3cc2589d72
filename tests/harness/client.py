"""A small HTTP client for the test step-ca: urllib + TLS pinned to the test root.

Independent of pystep on purpose: it checks what pystep makes. Verification is
never disabled; the only trusted certificate is the CA's root.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import ssl
import struct
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Response = tuple[int, Any]


@dataclass
class SignResult:
    """What POST /1.0/sign or /1.0/renew answered, decoded."""

    status: int
    body: Any
    certificate: x509.Certificate | None = None
    chain: list[x509.Certificate] = field(default_factory=list)
    key: ec.EllipticCurvePrivateKey | None = None  # the CSR's key (sign only)

    @property
    def common_name(self) -> str | None:
        if self.certificate is None:
            return None
        names = self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else None

    @property
    def sans(self) -> list[str]:
        """DNS names, IPs, emails and URIs of the certificate, as strings."""
        if self.certificate is None:
            return []
        try:
            ext = self.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return []
        return [str(name.value) for name in ext.value]


@dataclass
class SSHSignResult:
    """What an SSH endpoint (sign, renew, rekey) answered, decoded."""

    status: int
    body: Any
    certificate: serialization.SSHCertificate | None = None


def split_sans(sans: Sequence[str]) -> list[x509.GeneralName]:
    """SANs the way step sorts them into a CSR: IP, email, URI, else DNS."""
    names: list[x509.GeneralName] = []
    for san in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(san)))
            continue
        except ValueError:
            pass
        if "@" in san:
            names.append(x509.RFC822Name(san))
        elif "://" in san:
            names.append(x509.UniformResourceIdentifier(san))
        else:
            names.append(x509.DNSName(san))
    return names


def make_csr(
    cn: str, sans: Sequence[str], key: ec.EllipticCurvePrivateKey | None = None
) -> tuple[str, ec.EllipticCurvePrivateKey]:
    """A fresh EC P-256 CSR (PEM) with subject CN ``cn`` and the given SANs."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(split_sans(sans)), critical=False
        )
    csr = builder.sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode(), key


def ssh_wire_b64(public_key: str | bytes | serialization.SSHPublicKeyTypes) -> str:
    """Standard base64 of an SSH public key's wire format (what the CA's JSON wants)."""
    if isinstance(public_key, str | bytes):
        line = public_key.decode() if isinstance(public_key, bytes) else public_key
    else:
        line = public_key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()
    return line.split()[1]


def parse_ssh_certificate(b64: str) -> serialization.SSHCertificate:
    wire = base64.b64decode(b64)
    (length,) = struct.unpack(">I", wire[:4])
    key_type = wire[4 : 4 + length]
    return serialization.load_ssh_public_identity(key_type + b" " + b64.encode())  # type: ignore[return-value]


def _pem_certs(pems: Sequence[str]) -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(p.encode()) for p in pems]


class CAClient:
    """HTTP helpers for one CA; ``url`` has no trailing slash."""

    url: str
    root_path: Path
    http_timeout: float = 30.0

    def __init__(self, url: str, root_path: Path | str) -> None:
        self.url = url.rstrip("/")
        self.root_path = Path(root_path)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.root_path))

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """One HTTPS request; returns (status, parsed JSON or text). HTTP errors are returned."""
        req = urllib.request.Request(
            self.url + path, data=body, method=method, headers=dict(headers or {})
        )
        try:
            with urllib.request.urlopen(
                req, context=self.ssl_context(), timeout=self.http_timeout
            ) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, json_body: Any, headers: dict[str, str] | None = None) -> Response:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        body = None if json_body is None else json.dumps(json_body).encode()
        return self.request("POST", path, body, all_headers)

    def list_provisioners(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Every provisioner, following nextCursor page by page."""
        found: list[dict[str, Any]] = []
        cursor = ""
        while True:
            query = {"cursor": cursor} if cursor else {}
            if limit is not None:
                query["limit"] = str(limit)
            qs = "?" + urllib.parse.urlencode(query) if query else ""
            status, body = self.get("/provisioners" + qs)
            if status != 200:
                raise RuntimeError(f"GET /provisioners{qs}: {status} {body}")
            found.extend(body["provisioners"])
            cursor = body.get("nextCursor", "")
            if not cursor:
                return found

    def sign(
        self,
        token: str,
        cn: str,
        sans: Sequence[str] | None = None,
        *,
        not_before: str | None = None,
        not_after: str | None = None,
    ) -> SignResult:
        """POST /1.0/sign with a fresh EC CSR (CN ``cn``; SANs default to ``[cn]``)."""
        csr, key = make_csr(cn, list(sans) if sans is not None else [cn])
        body: dict[str, Any] = {"csr": csr, "ott": token}
        if not_before is not None:
            body["notBefore"] = not_before
        if not_after is not None:
            body["notAfter"] = not_after
        status, answer = self.post("/1.0/sign", body)
        return self._sign_result(status, answer, key)

    def renew_with_token(self, token: str) -> SignResult:
        """POST /1.0/renew with ``Authorization: Bearer <token>`` and no body."""
        status, answer = self.request(
            "POST", "/1.0/renew", b"", {"Authorization": f"Bearer {token}"}
        )
        return self._sign_result(status, answer, None)

    @staticmethod
    def _sign_result(
        status: int, answer: Any, key: ec.EllipticCurvePrivateKey | None
    ) -> SignResult:
        result = SignResult(status, answer, key=key)
        if status == 201 and isinstance(answer, dict):
            result.certificate = x509.load_pem_x509_certificate(answer["crt"].encode())
            result.chain = _pem_certs(answer.get("certChain") or [answer["crt"], answer["ca"]])
        return result

    def revoke(
        self, token: str, serial: str | int, *, reason_code: int = 0, reason: str = ""
    ) -> Response:
        """POST /1.0/revoke (passive) of the certificate with this decimal serial."""
        return self._revoke("/1.0/revoke", token, serial, reason_code, reason)

    def ssh_revoke(
        self, token: str, serial: str | int, *, reason_code: int = 0, reason: str = ""
    ) -> Response:
        """POST /1.0/ssh/revoke (passive) of the SSH certificate with this serial."""
        return self._revoke("/1.0/ssh/revoke", token, serial, reason_code, reason)

    def _revoke(
        self, path: str, token: str, serial: str | int, reason_code: int, reason: str
    ) -> Response:
        body = {
            "serial": str(serial),
            "ott": token,
            "reasonCode": reason_code,
            "reason": reason,
            "passive": True,
        }
        return self.post(path, body)

    def ssh_sign(
        self,
        token: str,
        cert_type: str,
        principals: Sequence[str],
        key_id: str,
        public_key: str | bytes | serialization.SSHPublicKeyTypes,
        *,
        valid_after: str | None = None,
        valid_before: str | None = None,
    ) -> SSHSignResult:
        """POST /1.0/ssh/sign; ``public_key`` is an OpenSSH line or a key object."""
        body: dict[str, Any] = {
            "publicKey": ssh_wire_b64(public_key),
            "ott": token,
            "certType": cert_type,
            "principals": list(principals),
            "keyID": key_id,
        }
        if valid_after is not None:
            body["validAfter"] = valid_after
        if valid_before is not None:
            body["validBefore"] = valid_before
        return self._ssh_result(*self.post("/1.0/ssh/sign", body))

    def ssh_renew(self, token: str) -> SSHSignResult:
        return self._ssh_result(*self.post("/1.0/ssh/renew", {"ott": token}))

    def ssh_rekey(
        self, token: str, public_key: str | bytes | serialization.SSHPublicKeyTypes
    ) -> SSHSignResult:
        body = {"ott": token, "publicKey": ssh_wire_b64(public_key)}
        return self._ssh_result(*self.post("/1.0/ssh/rekey", body))

    @staticmethod
    def _ssh_result(status: int, answer: Any) -> SSHSignResult:
        result = SSHSignResult(status, answer)
        if status == 201 and isinstance(answer, dict) and answer.get("crt"):
            result.certificate = parse_ssh_certificate(answer["crt"])
        return result
