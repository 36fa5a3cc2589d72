"""A K8sSA provisioner ``k8ssa`` (only one per CA) trusting one EC P-256 public key.

The private key is ``<workdir>/extras/k8ssa/sa.key``; :func:`service_account_token`
makes a token shaped like a (legacy, non-projected) Kubernetes service-account token.
Make it after the CA started: step-ca refuses tokens issued before its start.
"""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path
from typing import Any

from tests.harness.pki import Pki

NAME = "k8ssa"
SA_NAMESPACE = "default"
SA_NAME = "pystep-test"


def key_path(workdir: Path) -> Path:
    return Path(workdir) / "extras" / "k8ssa" / "sa.key"


def service_account_token(workdir: Path, *, issuer: str = "kubernetes/serviceaccount") -> str:
    from jwcrypto import jwk, jwt

    key = jwk.JWK.from_pem(key_path(workdir).read_bytes())
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": f"system:serviceaccount:{SA_NAMESPACE}:{SA_NAME}",
        "iat": now,
        "kubernetes.io/serviceaccount/namespace": SA_NAMESPACE,
        "kubernetes.io/serviceaccount/secret.name": f"{SA_NAME}-token-abcde",
        "kubernetes.io/serviceaccount/service-account.name": SA_NAME,
        "kubernetes.io/serviceaccount/service-account.uid": str(uuid.uuid4()),
    }
    token = jwt.JWT(header={"alg": "ES256", "kid": key.thumbprint()}, claims=claims)
    token.make_signed_token(key)
    return str(token.serialize())


def provisioners(workdir: Path, pki: Pki) -> list[dict[str, Any]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = key_path(workdir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return [{"type": "K8sSA", "name": NAME, "publicKeys": base64.b64encode(public_pem).decode()}]
