"""verify-token against the real step-ca 0.19: for every token the verifier's verdict
(exit 0 ⇔ accept) must equal the CA's answer (2xx ⇔ accept).

Good tokens come from ``pystep ca token``; broken ones are re-signed with the admin
provisioner key (decrypted with jwcrypto from the harness ca.json, password known) or
tampered with by hand. Each case verifies first, then sends the token to the CA (the CA
remembers jti values, the verifier does not).

Scoring of the replay case: the CA's used-token memory is invisible to a client, so the
verifier can only warn. That case asserts the known disagreement (verifier: accept with
a replay warning; CA: 401) rather than agreement.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from jwcrypto import jwa, jwe, jwk, jwt

from tests.conftest import RunPystep
from tests.harness.stepca import StepCA
from tests.integration._verify_helpers import case_csr, verify_online


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decrypt(encrypted_key: str, password: str = "password") -> jwk.JWK:
    header = json.loads(base64.urlsafe_b64decode(encrypted_key.split(".")[0] + "=="))
    jwa.default_max_pbkdf2_iterations = max(jwa.default_max_pbkdf2_iterations, header["p2c"])
    token = jwe.JWE()
    token.deserialize(encrypted_key, key=jwk.JWK.from_password(password))
    return jwk.JWK.from_json(token.payload.decode())


@dataclass
class Case:
    token: str
    op: str = "sign"
    cn: str | None = None  # CSR CN (None: the token's sub)
    sans: list[str] | None = None  # CSR SANs (None: the token's sans or [sub])
    known_blind_spot: bool = False


class Maker:
    def __init__(self, ca: StepCA, run: RunPystep, tmp: Path) -> None:
        self.ca, self.run, self.tmp = ca, run, tmp
        self.key = _decrypt(ca.provisioners["admin"]["encryptedKey"])
        self.kid = ca.provisioners["admin"]["key"]["kid"]
        self.pwfile = tmp / "pw.txt"
        self.pwfile.write_text("password")

    def mint(self, *args: str) -> str:
        if "--provisioner" not in args:
            args = (*args, "--provisioner", "admin")
        r = self.run("ca", "token", *args, "--ca-url", self.ca.url, "--root",
                     str(self.ca.root_path), "--provisioner-password-file", str(self.pwfile),
                     env={"STEPPATH": str(self.tmp / "nosteppath")})
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def claims(self, sub: str = "svc.example.com", path: str = "/1.0/sign") -> dict[str, Any]:
        now = int(time.time())
        return {"iss": "admin", "sub": sub, "aud": self.ca.url + path, "iat": now, "nbf": now,
                "exp": now + 300, "jti": secrets.token_hex(32), "sans": [sub]}

    def sign(self, claims: dict[str, Any], header: dict[str, Any] | None = None,
             key: jwk.JWK | None = None) -> str:
        hdr = {"alg": "ES256", "typ": "JWT", "kid": self.kid, **(header or {})}
        token = jwt.JWT(header=hdr, claims=claims)
        token.make_signed_token(key or self.key)
        return str(token.serialize())

    def raw_es(self, claims: dict[str, Any], alg: str, hash_alg: hashes.HashAlgorithm) -> str:
        """A token signed by the admin P-256 key but labelled with another ``alg``."""
        priv = serialization.load_pem_private_key(self.key.export_to_pem(True, None), None)
        assert isinstance(priv, ec.EllipticCurvePrivateKey)
        head = _b64(json.dumps({"alg": alg, "kid": self.kid, "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        der = priv.sign(f"{head}.{body}".encode(), ec.ECDSA(hash_alg))
        r, s = utils.decode_dss_signature(der)
        return f"{head}.{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _with(m: Maker, **changes: Any) -> str:
    c = m.claims()
    for k, v in changes.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return m.sign(c)


def _now() -> int:
    return int(time.time())


CASES: dict[str, Callable[[Maker], Case]] = {
    "good-sign": lambda m: Case(m.mint("good.example.com")),
    "good-sign-sans": lambda m: Case(m.mint("multi.example.com", "--san", "multi.example.com",
                                            "--san", "10.1.2.3", "--san", "a@example.com")),
    "good-p384": lambda m: Case(m.mint("p384.example.com", "--provisioner", "jwk-p384")),
    "good-revoke": lambda m: Case(m.mint("--revoke", "123456789"), op="revoke"),
    "good-ssh-user": lambda m: Case(m.mint("alice@example.com", "--ssh", "--principal",
                                           "alice"), op="ssh-sign"),
    "good-ssh-revoke": lambda m: Case(m.mint("--ssh", "--revoke", "424242"), op="ssh-revoke"),
    "revoke-token-for-sign": lambda m: Case(m.mint("--revoke", "99"), op="sign",
                                            cn="99", sans=["99"]),
    "sign-token-for-revoke": lambda m: Case(m.mint("x.example.com"), op="revoke"),
    "sign-token-for-ssh-sign": lambda m: Case(m.mint("bob@example.com"), op="ssh-sign"),
    "wrong-iss": lambda m: Case(_with(m, iss="not-admin")),
    "wrong-kid": lambda m: Case(m.sign(m.claims(), {"kid": "nope"})),
    "other-provisioner-kid": lambda m: Case(m.sign(m.claims(), {
        "kid": m.ca.provisioners["jwk-p384"]["key"]["kid"]})),
    "aud-fragment": lambda m: Case(_with(m, aud=m.ca.url + "/1.0/sign#jwk/admin")),
    "aud-http": lambda m: Case(_with(m, aud=m.ca.url.replace("https", "http") + "/1.0/sign")),
    "aud-wrong-path": lambda m: Case(_with(m, aud=m.ca.url + "/1.0/sign/")),
    "aud-other-port": lambda m: Case(_with(m, aud="https://127.0.0.1:1/sign")),
    "aud-legacy": lambda m: Case(_with(m, aud="step-certificate-authority")),
    "aud-array-one-good": lambda m: Case(_with(m, aud=["https://x.invalid/1.0/sign",
                                                        m.ca.url + "/1.0/sign"])),
    "aud-ssh-url-for-sign": lambda m: Case(_with(m, aud=m.ca.url + "/1.0/ssh/sign")),
    "expired": lambda m: Case(_with(m, exp=_now() - 120, nbf=_now() - 400, iat=None)),
    "expired-within-leeway": lambda m: Case(_with(m, exp=_now() - 20, nbf=_now() - 300,
                                                  iat=None)),
    "nbf-future": lambda m: Case(_with(m, nbf=_now() + 180)),
    "nbf-within-leeway": lambda m: Case(_with(m, nbf=_now() + 20)),
    "iat-future": lambda m: Case(_with(m, iat=_now() + 180)),
    "iat-before-ca-start": lambda m: Case(_with(m, iat=int(m.ca.started_at) - 30)),
    "no-times-no-jti": lambda m: Case(_with(m, iat=None, nbf=None, exp=None, jti=None)),
    "tampered-signature": lambda m: Case(_flip_sig(m.mint("t.example.com"))),
    "tampered-payload": lambda m: Case(_swap_payload(m.mint("t2.example.com"), m),
                                       cn="evil.example.com", sans=["evil.example.com"]),
    "alg-es384-label": lambda m: Case(m.raw_es(m.claims(), "ES384", hashes.SHA384())),
    "alg-none": lambda m: Case(_alg_none(m)),
    "foreign-key": lambda m: Case(m.sign(m.claims(), key=jwk.JWK.generate(kty="EC",
                                                                            crv="P-256"))),
    "csr-sans-mismatch": lambda m: Case(m.mint("c.example.com"), sans=["other.example.com"]),
    "csr-sans-subset": lambda m: Case(m.mint("s.example.com", "--san", "s.example.com",
                                             "--san", "10.0.0.9"), sans=["s.example.com"]),
    "csr-extra-ip": lambda m: Case(m.mint("i.example.com"), sans=["i.example.com",
                                                                  "10.9.9.9"]),
    "csr-no-sans": lambda m: Case(m.mint("n.example.com"), sans=[]),
    "csr-cn-not-sub": lambda m: Case(m.mint("cn.example.com"), cn="other.example.com"),
    "missing-sub": lambda m: Case(_with(m, sub=""), cn="svc.example.com",
                                  sans=["svc.example.com"]),
    "sans-as-string": lambda m: Case(_with(m, sans="svc.example.com")),
    "exp-as-string": lambda m: Case(_with(m, exp=str(_now() + 300))),
    "garbage": lambda m: Case("not.a.token"),
    "ssh-sign-without-step": lambda m: Case(_with(m, aud=m.ca.url + "/1.0/ssh/sign"),
                                            op="ssh-sign"),
    "acme-bypass": lambda m: Case(_acme(m)),
    "replayed-jti": lambda m: Case(_replay(m), known_blind_spot=True),
}


def _flip_sig(token: str) -> str:
    head, body, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=="))
    raw[5] ^= 0x01
    return f"{head}.{body}.{_b64(bytes(raw))}"


def _swap_payload(token: str, m: Maker) -> str:
    head, _, sig = token.split(".")
    c = m.claims("evil.example.com")
    return f"{head}.{_b64(json.dumps(c).encode())}.{sig}"


def _alg_none(m: Maker) -> str:
    head = _b64(json.dumps({"alg": "none", "kid": m.kid}).encode())
    return f"{head}.{_b64(json.dumps(m.claims()).encode())}."


def _acme(m: Maker) -> str:
    c = m.claims()
    c["aud"] = m.ca.url + "/1.0/sign#acme/acme"
    return m.sign(c, key=jwk.JWK.generate(kty="EC", crv="P-256"))


def _replay(m: Maker) -> str:
    first = m.claims("replay.example.com")
    token = m.sign(first)
    assert m.ca.sign(token, "replay.example.com").status == 201
    second = m.claims("replay.example.com")
    second["jti"] = first["jti"]
    return m.sign(second)


def _ca_answer(ca: StepCA, case: Case, claims: dict[str, Any], csr_pem: str) -> int:
    if case.op == "sign":
        return ca.post("/1.0/sign", {"csr": csr_pem, "ott": case.token})[0]
    if case.op == "revoke":
        return ca.revoke(case.token, "123456789")[0]
    if case.op == "ssh-revoke":
        return ca.ssh_revoke(case.token, "424242")[0]
    if case.op == "ssh-sign":
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        return ca.ssh_sign(case.token, "user", [], "", key).status
    raise AssertionError(case.op)


@pytest.fixture(scope="module")
def maker(step_ca: StepCA, tmp_path_factory: pytest.TempPathFactory) -> Maker:
    from tests.conftest import run_pystep_cmd

    return Maker(step_ca, run_pystep_cmd, tmp_path_factory.mktemp("verify"))


def _claims(token: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    except (ValueError, IndexError):
        return {}
    return value if isinstance(value, dict) else {}


@pytest.mark.parametrize("name", sorted(CASES))
def test_verifier_agrees_with_step_ca(
    name: str, maker: Maker, step_ca: StepCA, run_pystep: RunPystep, tmp_path: Path
) -> None:
    case = CASES[name](maker)
    claims = _claims(case.token)
    csr_pem = case_csr(claims, case.cn, case.sans)
    result, verdict = verify_online(run_pystep, step_ca, tmp_path, case.token, case.op, csr_pem)
    status = _ca_answer(step_ca, case, claims, csr_pem)
    ca_accepts = 200 <= status < 300
    if case.known_blind_spot:
        assert status == 401 and verdict["accepted"] and result.returncode == 0
        assert any(c["check"] == "replay" and c["status"] == "warn" for c in verdict["checks"])
        return
    assert (result.returncode == 0) == ca_accepts, (
        name, status, verdict, step_ca.log_tail(3))
    if not ca_accepts:
        assert verdict["http"] == status, (name, status, verdict)
