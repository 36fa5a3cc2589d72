"""Provisioners of the test step-ca.

``default_provisioners`` gives the JWK provisioners every test can rely on:

* the real step-made ones copied from the step v0.19 corpus
  (``tests/fixtures/step-v0.19/pki/ca.json``): ``admin`` (EC P-256, encryptedKey
  with p2c 100000), ``jwk-p384``, ``jwk-p521``, ``jwk-ed25519``, ``jwk-rsa`` (each
  with an encryptedKey), ``pem-ec``, ``pem-ec-plain``, ``pem-ed25519``, ``pem-rsa``
  (public keys of ``tests/fixtures/step-v0.19/keys/pem-*``, no encryptedKey);
* ``jwk-600k``: a fresh EC P-256 key whose encryptedKey is a PBES2 JWE with
  p2c 600000 (what the latest step writes), made with jwcrypto;
* ``acme``: an ACME provisioner (step refuses to mint tokens for it).

Other provisioner kinds (X5C, SSHPOP, Nebula, K8sSA, OIDC, cloud) are added by
modules in ``tests/harness/extras/``: each module there that defines
``provisioners(workdir: Path, pki: Pki) -> list[dict]`` is picked up by
``extra_provisioners`` and its entries land in the same session CA. Adding a
file there needs no edit of any shared file.
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import pkgutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tests.harness.pki import Pki

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "step-v0.19"
FIXTURE_CA_JSON = FIXTURES / "pki" / "ca.json"
FIXTURE_KEYS = FIXTURES / "keys"
PROVISIONER_PASSWORD = "password"
P2C_600K = 600_000

Provisioner = dict[str, Any]
ProvisionerFactory = Callable[[Path, Pki], Iterable[Provisioner]]

# The real corpus provisioners reused as they are (all JWK).
CORPUS_JWK_NAMES = (
    "admin",
    "pem-ec",
    "pem-ec-plain",
    "pem-ed25519",
    "pem-rsa",
    "jwk-p384",
    "jwk-p521",
    "jwk-ed25519",
    "jwk-rsa",
)


def corpus_provisioners(names: Iterable[str] = CORPUS_JWK_NAMES) -> list[Provisioner]:
    """The named provisioners of the real step v0.19 corpus ca.json, unchanged."""
    config = json.loads(FIXTURE_CA_JSON.read_text())
    by_name = {p["name"]: p for p in config["authority"]["provisioners"]}
    return [dict(by_name[name]) for name in names]


def make_jwk_provisioner_p2c(
    name: str, workdir: Path, p2c: int = P2C_600K, password: str = PROVISIONER_PASSWORD
) -> Provisioner:
    """A JWK provisioner with a fresh EC P-256 key and a jwcrypto-made encryptedKey.

    Writes ``<workdir>/provisioners/<name>.pub.json`` and ``<name>.key.jwe``
    (the compact JWE) so that tests can use the key as files too.
    """
    from jwcrypto import jwa, jwe, jwk

    key = jwk.JWK.generate(kty="EC", crv="P-256")
    kid = key.thumbprint()
    public = {"use": "sig", "alg": "ES256", "kid": kid, **json.loads(key.export_public())}
    private = {"use": "sig", "alg": "ES256", "kid": kid, **json.loads(key.export_private())}

    protected = {
        "alg": "PBES2-HS256+A128KW",
        "cty": "jwk+json",
        "enc": "A256GCM",
        "p2c": p2c,
        "p2s": base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode(),
    }
    if jwa.default_max_pbkdf2_iterations < p2c:
        jwa.default_max_pbkdf2_iterations = p2c
    token = jwe.JWE(plaintext=json.dumps(private).encode(), protected=json.dumps(protected))
    token.add_recipient(jwk.JWK.from_password(password))
    encrypted = token.serialize(compact=True)

    outdir = workdir / "provisioners"
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / f"{name}.pub.json").write_text(json.dumps(public, indent=2) + "\n")
    (outdir / f"{name}.key.jwe").write_text(encrypted)
    return {
        "type": "JWK",
        "name": name,
        "key": public,
        "encryptedKey": encrypted,
        "claims": {"enableSSHCA": True},
    }


def default_provisioners(workdir: Path) -> list[Provisioner]:
    """The provisioners every session CA has (see the module docstring)."""
    return [
        *corpus_provisioners(),
        make_jwk_provisioner_p2c("jwk-600k", workdir),
        {"type": "ACME", "name": "acme"},
    ]


def extra_provisioners(workdir: Path, pki: Pki) -> list[Provisioner]:
    """Provisioners from every module of ``tests.harness.extras`` (sorted by module name)."""
    import tests.harness.extras as extras

    found: list[Provisioner] = []
    for info in sorted(pkgutil.iter_modules(extras.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{extras.__name__}.{info.name}")
        factory: ProvisionerFactory | None = getattr(module, "provisioners", None)
        if factory is not None:
            found.extend(factory(workdir, pki))
    return found
