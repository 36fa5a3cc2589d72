"""Loading --key files: every key step v0.19 and ssh-keygen wrote, and the ways it fails."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from pystep.errors import (
    InputError,
    InteractionRequired,
    KeyLoadError,
    MissingExtraError,
    PasswordError,
)
from pystep.jose.jwk import public_jwk, thumbprint
from pystep.jose.jws import decode_compact, sign_compact, verify_signature
from pystep.keys.files import decrypt_jwk, load_signing_key, signer_from_jwk
from pystep.passwords import Passwords
from tests.ci import tools_mark

FIXTURES = Path(__file__).parents[2] / "fixtures" / "step-v0.19"
MANIFEST = json.loads((FIXTURES / "keys" / "manifest.json").read_text())["keys"]
PASSWORD = (FIXTURES / "password.txt").read_bytes()
PROVISIONERS = json.loads((FIXTURES / "pki" / "ca.json").read_text())["authority"][
    "provisioners"
]
ADMIN = next(p for p in PROVISIONERS if p["name"] == "admin")


class Prompter:
    """Answers prompts from a list and records what was asked."""

    def __init__(self, *answers: bytes) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> bytes:
        self.prompts.append(prompt)
        return self.answers.pop(0)


def _public_key_of(entry: dict[str, Any]) -> Any:
    public = FIXTURES / entry["files"].get("public", "")
    if "csr" in entry["files"]:
        from cryptography import x509

        return x509.load_pem_x509_csr((FIXTURES / entry["files"]["csr"]).read_bytes()).public_key()
    data = public.read_bytes()
    if data.startswith(b"{"):
        from pystep.jose.jwk import public_key_from_jwk

        return public_key_from_jwk(json.loads(data))
    if data.startswith(b"-----"):
        return serialization.load_pem_public_key(data)
    return serialization.load_ssh_public_key(data)


@pytest.mark.parametrize("entry", MANIFEST, ids=lambda k: k["id"])
def test_every_step_key_loads_signs_and_has_steps_thumbprint(entry: dict[str, Any]) -> None:
    path = str(FIXTURES / entry["files"]["private"])
    loaded = load_signing_key(path, Passwords(fixed=PASSWORD))
    assert thumbprint(loaded.public_key) == entry["thumbprint"]
    assert public_jwk(loaded.public_key) == public_jwk(_public_key_of(entry))
    is_jwk_file = entry["id"].startswith("jwk-")
    assert loaded.kid == (entry["kid"] if is_jwk_file else None)
    if entry.get("alg"):
        assert loaded.alg == entry["alg"]
    token = sign_compact({"kid": "x"}, {"sub": "s"}, loaded.signer)
    assert verify_signature(decode_compact(token), _public_key_of(entry), loaded.alg)


@pytest.mark.parametrize("entry", [k for k in MANIFEST if k["encrypted"]], ids=lambda k: k["id"])
def test_wrong_password_file_gets_one_attempt(entry: dict[str, Any]) -> None:
    path = str(FIXTURES / entry["files"]["private"])
    with pytest.raises(PasswordError) as info:
        load_signing_key(path, Passwords(fixed=b"wrong", prompter=Prompter()))
    assert "invalid password" in str(info.value)
    assert "wrong" not in str(info.value)


def test_prompts_three_times_with_default_prompt() -> None:
    path = str(FIXTURES / "keys" / "pem-okp-ed25519.key")
    prompter = Prompter(b"a", b"b", PASSWORD)
    loaded = load_signing_key(path, Passwords(prompter=prompter))
    assert loaded.alg == "EdDSA"
    assert prompter.prompts == [f"Please enter the password to decrypt {path}"] * 3
    prompter = Prompter(b"a", b"b", b"c", PASSWORD)
    with pytest.raises(PasswordError):
        load_signing_key(path, Passwords(prompter=prompter), prompt="Key password:")
    assert prompter.prompts == ["Key password:"] * 3


def test_encrypted_key_without_passwords_needs_interaction() -> None:
    with pytest.raises(InteractionRequired):
        load_signing_key(str(FIXTURES / "keys" / "jwk-ec-p256.key.json"), Passwords())
    # Unencrypted keys never ask.
    plain = load_signing_key(str(FIXTURES / "keys" / "pem-ec-p256-plain.key"), Passwords())
    assert plain.alg == "ES256"


def test_ed25519_pkcs8_is_read_although_cryptography_refuses_it() -> None:
    data = (FIXTURES / "keys" / "pem-okp-ed25519.key").read_bytes()
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(data, password=PASSWORD)
    loaded = load_signing_key(str(FIXTURES / "keys" / "pem-okp-ed25519.key"),
                              Passwords(fixed=PASSWORD))
    assert loaded.alg == "EdDSA"


def test_compact_jwe_file(tmp_path: Path) -> None:
    path = tmp_path / "admin.jwe"
    path.write_text(ADMIN["encryptedKey"] + "\n")
    loaded = load_signing_key(str(path), Passwords(fixed=PASSWORD))
    assert loaded.kid == ADMIN["key"]["kid"] == thumbprint(loaded.public_key)
    assert loaded.alg == "ES256"


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_two_pem_blocks(tmp_path: Path) -> None:
    key = (FIXTURES / "keys" / "pem-ec-p256-plain.key").read_bytes()
    path = _write(tmp_path, "two.pem", key + key)
    with pytest.raises(KeyLoadError) as info:
        load_signing_key(path, Passwords())
    assert str(info.value) == f"error decoding {path}: contains more than one PEM encoded block"


@pytest.mark.parametrize(
    "name",
    ["keys/pem-ec-p256.pub", "keys/jwk-rsa-2048.pub.json", "keys/csr-app.csr",
     "keys/ssh-ed25519.pub"],
)
def test_public_only_files(name: str) -> None:
    path = str(FIXTURES / name)
    with pytest.raises(InputError, match=r"does not contain a private key|unsupported format"):
        load_signing_key(path, Passwords())


def test_public_only_pem_message() -> None:
    path = str(FIXTURES / "keys" / "pem-ec-p256.pub")
    with pytest.raises(KeyLoadError) as info:
        load_signing_key(path, Passwords())
    assert str(info.value) == f"file {path} does not contain a private key"


@pytest.mark.parametrize("content", [b"hello", b"", b"\x00\x01binary", b"[1, 2]"])
def test_unsupported_format(tmp_path: Path, content: bytes) -> None:
    path = _write(tmp_path, "junk", content)
    with pytest.raises(InputError) as info:
        load_signing_key(path, Passwords())
    assert str(info.value) == f"error reading {path}: unsupported format"


def test_missing_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"error reading .*nope"):
        load_signing_key(str(tmp_path / "nope"), Passwords())
    big = _write(tmp_path, "big", b"{" + b" " * (1 << 20) + b"}")
    with pytest.raises(InputError, match="file is too large"):
        load_signing_key(big, Passwords())


def test_corrupt_pem_and_unknown_block(tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad.pem", b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n"
                                      b"-----END EC PRIVATE KEY-----\n")
    with pytest.raises(KeyLoadError, match="invalid private key"):
        load_signing_key(bad, Passwords())
    odd = _write(tmp_path, "odd.pem", b"-----BEGIN FOO-----\nAAAA\n-----END FOO-----\n")
    with pytest.raises(KeyLoadError, match="unexpected header 'FOO'"):
        load_signing_key(odd, Passwords())


def test_encrypted_openssh_without_bcrypt(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "bcrypt", None)
    path = str(FIXTURES / "keys" / "ssh-ecdsa-p256")
    with pytest.raises(MissingExtraError) as info:
        load_signing_key(path, Passwords(fixed=PASSWORD))
    assert info.value.extra == "ssh"
    assert "pystep[ssh]" in str(info.value)
    # Unencrypted OpenSSH keys do not need bcrypt.
    assert load_signing_key(str(FIXTURES / "keys" / "ssh-ed25519"), Passwords()).alg == "EdDSA"


@tools_mark("ssh-keygen")
def test_openssh_key_made_now_by_ssh_keygen(tmp_path: Path) -> None:
    import subprocess

    path = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ecdsa", "-b", "384", "-N", "pw", "-f",
                    str(path)], check=True)
    loaded = load_signing_key(str(path), Passwords(fixed=b"pw"))
    assert loaded.alg == "ES384"
    pub = serialization.load_ssh_public_key((tmp_path / "id.pub").read_bytes())
    assert thumbprint(pub) == thumbprint(loaded.public_key)  # type: ignore[arg-type]


def test_decrypt_jwk_compact_plain_and_failures() -> None:
    jwk = decrypt_jwk(ADMIN["encryptedKey"], Passwords(fixed=PASSWORD),
                      "Please enter the password to decrypt the provisioner key")
    assert jwk["kid"] == ADMIN["key"]["kid"] and "d" in jwk
    plain = (FIXTURES / "keys" / "jwk-ec-p256-plain.key.json").read_bytes()
    assert decrypt_jwk(plain, Passwords(), "unused") == json.loads(plain)
    with pytest.raises(PasswordError) as info:
        decrypt_jwk(ADMIN["encryptedKey"], Passwords(fixed=b"nope"), "p")
    assert str(info.value) == "failed to decrypt JWE: invalid password"
    with pytest.raises(InputError, match="error unmarshaling provisioning key"):
        decrypt_jwk("not a key", Passwords(), "p")


def test_signer_from_jwk_uses_its_alg() -> None:
    jwk = json.loads((FIXTURES / "keys" / "jwk-rsa-2048-plain.key.json").read_text())
    assert signer_from_jwk(jwk).alg == "RS256"
    assert signer_from_jwk({**jwk, "alg": "PS384"}).alg == "PS384"
    no_alg = {k: v for k, v in jwk.items() if k != "alg"}
    assert signer_from_jwk(no_alg).alg == "RS256"
    ec_jwk = json.loads((FIXTURES / "keys" / "jwk-ec-p256-plain.key.json").read_text())
    with pytest.raises(KeyLoadError, match="invalid algorithm 'ES384'"):
        signer_from_jwk({**ec_jwk, "alg": "ES384"})
