"""Clear errors from the X5C, renew, SSHPOP, Nebula and K8sSA kinds, before any token."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from pystep.errors import KeyLoadError, NotSupportedError, PystepError, UsageError
from pystep.passwords import Passwords
from pystep.provisioners import prepare
from pystep.provisioners.base import Audience, Credentials, MintContext, ProvisionerRecord
from pystep.provisioners.renew import prepare_renew
from pystep.request import TokenKind, TokenRequest

INPUTS = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19" / "tokens" / "inputs"
PASSWORD = (INPUTS.parents[1] / "password.txt").read_bytes().strip()


def ctx(**creds: Any) -> MintContext:
    return MintContext(audience=Audience("https://ca.test"), root_sha="00",
                       credentials=Credentials(**creds), passwords=Passwords(fixed=PASSWORD))


def rec(kind: str, name: str = "p") -> ProvisionerRecord:
    return ProvisionerRecord({"type": kind, "name": name})


def test_x5c_requires_both_flags() -> None:
    with pytest.raises(UsageError, match="requires the '--x5c-cert' flag"):
        prepare(rec("X5C"), ctx(x5c_key="k"))
    with pytest.raises(UsageError, match="requires the '--x5c-key' flag"):
        prepare(rec("X5C"), ctx(x5c_cert=str(INPUTS / "x5c-leaf.crt")))


def test_x5c_key_mismatch() -> None:
    c = ctx(x5c_cert=str(INPUTS / "x5c-leaf.crt"), x5c_key=str(INPUTS / "renew-leaf.key"))
    with pytest.raises(KeyLoadError, match="private key does not match public key"):
        prepare(rec("X5C"), c)


def _self_signed(tmp_path: Path, *, days: int) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old.test")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(days=10))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                     False), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "c.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "c.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return str(tmp_path / "c.crt"), str(tmp_path / "c.key")


def test_x5c_expired_leaf(tmp_path: Path) -> None:
    crt, key = _self_signed(tmp_path, days=-1)
    with pytest.raises(KeyLoadError, match="expired"):
        prepare(rec("X5C"), ctx(x5c_cert=crt, x5c_key=key))


def test_renew_accepts_expired_leaf_and_checks_subject(tmp_path: Path) -> None:
    crt, key = _self_signed(tmp_path, days=-1)
    minter = prepare_renew(ctx(x5c_cert=crt, x5c_key=key))
    assert minter.mint(TokenRequest(subject="old.test", kind=TokenKind.RENEW))
    with pytest.raises(UsageError, match=r"positional argument x\.test must match the certificate"):
        minter.mint(TokenRequest(subject="x.test", kind=TokenKind.RENEW))


def test_renew_requires_files() -> None:
    with pytest.raises(UsageError, match="'--x5c-cert' flag"):
        prepare_renew(ctx())
    with pytest.raises(PystepError, match="no such file"):
        prepare_renew(ctx(x5c_cert="/nonexistent.crt", x5c_key="/nonexistent.key"))


@pytest.mark.parametrize("kind", [TokenKind.SIGN, TokenKind.REVOKE, TokenKind.SSH_USER_SIGN,
                                  TokenKind.SSH_HOST_SIGN])
def test_sshpop_refuses_other_kinds(kind: TokenKind) -> None:
    minter = prepare(rec("SSHPOP"), ctx(
        sshpop_cert=str(INPUTS / "sshpop-host-ecdsa-cert.pub"),
        sshpop_key=str(INPUTS / "sshpop-host-ecdsa")))
    with pytest.raises(PystepError, match=f"SSHPOP token: {kind.value}: ") as err:
        minter.mint(TokenRequest(subject="h", kind=kind))
    assert err.value.hint is not None and "--ssh" in err.value.hint


def test_sshpop_key_mismatch() -> None:
    with pytest.raises(KeyLoadError, match="private key does not match"):
        prepare(rec("SSHPOP"), ctx(sshpop_cert=str(INPUTS / "sshpop-host-ecdsa-cert.pub"),
                                   sshpop_key=str(INPUTS / "x5c-leaf.key")))


def test_sshpop_public_key_is_not_a_certificate() -> None:
    with pytest.raises(KeyLoadError, match="ssh certificate"):
        prepare(rec("SSHPOP"), ctx(sshpop_cert=str(INPUTS / "sshpop-host-ecdsa.pub"),
                                   sshpop_key=str(INPUTS / "sshpop-host-ecdsa")))


def test_nebula_key_mismatch(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import x25519

    other = x25519.X25519PrivateKey.generate().private_bytes_raw()
    import base64

    (tmp_path / "k").write_text("-----BEGIN NEBULA X25519 PRIVATE KEY-----\n"
                                + base64.b64encode(other).decode()
                                + "\n-----END NEBULA X25519 PRIVATE KEY-----\n")
    with pytest.raises(KeyLoadError, match="don't match"):
        prepare(rec("Nebula"), ctx(nebula_cert=str(INPUTS / "nebula-host1.crt"),
                                   nebula_key=str(tmp_path / "k")))


def test_nebula_sans_warning() -> None:
    notes: list[str] = []
    c = ctx(nebula_cert=str(INPUTS / "nebula-host1.crt"),
            nebula_key=str(INPUTS / "nebula-host1.key"))
    c.extra["notify"] = notes.append
    minter = prepare(rec("Nebula"), c)
    minter.mint(TokenRequest(subject="host1.example.com"))
    assert notes == []
    minter.mint(TokenRequest(subject="evil.example.com"))
    assert len(notes) == 1 and "evil.example.com" in notes[0]


def test_k8ssa_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PystepError, match="no such file"):
        prepare(rec("K8sSA"), ctx(k8ssa_token_path=str(tmp_path / "none")))


@pytest.mark.parametrize(("kind", "hint"), [("ACME", "ACME client"), ("SCEP", "SCEP client")])
def test_acme_and_scep_refused(kind: str, hint: str) -> None:
    with pytest.raises(NotSupportedError) as err:
        prepare(rec(kind, "their-name"), ctx())
    assert "'their-name'" in str(err.value) and kind in str(err.value)
    assert err.value.hint is not None and hint in err.value.hint


def _split_bundle(tmp_path: Path) -> tuple[str, str]:
    pems = (INPUTS / "x5c-leaf.crt").read_text().split("-----END CERTIFICATE-----")
    leaf, inter = (p.strip() + "\n-----END CERTIFICATE-----\n" for p in pems[:2])
    (tmp_path / "leaf.crt").write_text(leaf)
    (tmp_path / "chain.crt").write_text(inter)
    return str(tmp_path / "leaf.crt"), str(tmp_path / "chain.crt")


def test_x5c_chain_is_appended_after_the_cert(tmp_path: Path) -> None:
    """--x5c-chain: a leaf-only --x5c-cert plus the intermediate from a chain file gives
    the same header as the bundle step wrote."""
    from pystep.keys.x509 import load_cert_bundle, x5c_header_value

    leaf, chain = _split_bundle(tmp_path)
    key = str(INPUTS / "x5c-leaf.key")
    c = ctx(x5c_cert=leaf, x5c_key=key)
    c.extra["x5c_chain"] = (chain,)
    header = prepare(rec("X5C"), c).header  # type: ignore[attr-defined]
    bundle = x5c_header_value(load_cert_bundle(str(INPUTS / "x5c-leaf.crt")))
    assert header["x5c"] == bundle and len(bundle) == 2
    alone = prepare(rec("X5C"), ctx(x5c_cert=leaf, x5c_key=key)).header  # type: ignore[attr-defined]
    assert alone["x5c"] == bundle[:1]


def test_x5c_chain_missing_file(tmp_path: Path) -> None:
    leaf, _ = _split_bundle(tmp_path)
    c = ctx(x5c_cert=leaf, x5c_key=str(INPUTS / "x5c-leaf.key"))
    c.extra["x5c_chain"] = ("./nope-chain.crt",)
    with pytest.raises(PystepError, match=r"nope-chain\.crt"):
        prepare(rec("X5C"), c)
