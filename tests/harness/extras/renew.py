"""JWK provisioners whose certificates the renew tests renew.

``renew-after-expiry`` allows renewal after expiry; ``renew-strict`` does not. Both
allow certificates as short as 1 s (``minTLSCertDuration``) so that a test can get a
certificate that expires within seconds. Their private keys are plain PEM files
``<workdir>/extras/renew/<name>.key`` (use ``--key``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.harness.pki import Pki

NAMES = ("renew-after-expiry", "renew-strict")


def key_path(workdir: Path, name: str) -> Path:
    return Path(workdir) / "extras" / "renew" / f"{name}.key"


def provisioners(workdir: Path, pki: Pki) -> list[dict[str, Any]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwcrypto import jwk

    found = []
    for name in NAMES:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path = key_path(workdir, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pem)
        public = jwk.JWK.from_pem(pem)
        pub = {"use": "sig", "alg": "ES256", "kid": public.thumbprint(),
               **json.loads(public.export_public())}
        found.append(
            {
                "type": "JWK",
                "name": name,
                "key": pub,
                "claims": {
                    "minTLSCertDuration": "1s",
                    "allowRenewalAfterExpiry": name == "renew-after-expiry",
                },
            }
        )
    return found
