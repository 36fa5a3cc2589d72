"""No KMS error message shows a secret URI value (pin-value, management-key,
client-secret), whatever path raised it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pystep.errors import KMSError
from pystep.kms import KmsOptions, awskms, cloudkms, open_signer, tpm
from pystep.kms.uri import parse, redact, redact_uri, secret_values

SECRETS = ("s3cr3t", "s3 cr'3t?x=1", "p%20q")


def _assert_hidden(fn: Callable[[], object], secret: str) -> None:
    with pytest.raises(KMSError) as info:
        fn()
    err = info.value
    shown = f"{err}\n{err.diagnostics()}"
    for piece in {secret, secret.split(" ")[0], secret.split(" ")[-1].split("?")[0]}:
        assert piece not in shown, shown
    assert "*****" in shown


@pytest.mark.parametrize("secret", SECRETS)
@pytest.mark.parametrize("key", ["pin-value", "management-key", "client-secret", "PIN%2Dvalue"])
def test_front_door_unknown_scheme(secret: str, key: str) -> None:
    uri = f"hsm:module=/x;{key}={secret};id=1"
    _assert_hidden(lambda: open_signer(uri, KmsOptions()), secret)
    _assert_hidden(lambda: open_signer("k", KmsOptions(kms_uri=uri)), secret)
    _assert_hidden(lambda: open_signer(f"./k;{key}={secret}", KmsOptions()), secret)


@pytest.mark.parametrize("secret", SECRETS)
def test_backend_messages(secret: str) -> None:
    _assert_hidden(lambda: parse(f"module=/x;pin-value={secret}"), secret)
    _assert_hidden(
        lambda: open_signer(f"azurekms:vault=v;client-secret={secret}", KmsOptions()), secret
    )
    _assert_hidden(
        lambda: open_signer(f"azurekms:name=k?client-secret={secret}", KmsOptions()), secret
    )
    _assert_hidden(lambda: tpm._key_name(parse(f"tpmkms:pin-value={secret}")), secret)
    _assert_hidden(lambda: awskms.key_id(parse(f"awskms:region=r;pin-value={secret}")), secret)
    _assert_hidden(lambda: cloudkms.resource_name(parse(f"cloudkms:pin-value={secret}")), secret)


@pytest.mark.parametrize("secret", SECRETS)
def test_pkcs11_key_name_without_id(secret: str) -> None:
    pytest.importorskip("pkcs11")
    from pystep.kms import pkcs11

    key = parse(f"pkcs11:token=t?pin-value={secret}")
    _assert_hidden(lambda: pkcs11._key_template(key, None), secret)


def test_redact_helpers() -> None:
    assert redact_uri("pkcs11:module-path=/m?pin-value=1 2&x=y") == (
        "pkcs11:module-path=/m?pin-value=*****&x=y"
    )
    assert redact_uri("yubikey:slot-id=9a;management-key=0102") == (
        "yubikey:slot-id=9a;management-key=*****"
    )
    assert redact_uri("pkcs11:pin-source=/p;id=01") == "pkcs11:pin-source=/p;id=01"
    assert secret_values(["pkcs11:token=t?pin-value=a%20b"]) == ["a%20b", "a b"]
    assert redact("run x --kms pkcs11:pin-value=9 y") == "run x --kms pkcs11:pin-value=***** y"


def test_pin_source_not_utf8(tmp_path: Path) -> None:
    pin = tmp_path / "pin"
    pin.write_bytes(b"\xff\xfe12\n")
    with pytest.raises(KMSError) as err:
        parse(f"pkcs11:id=01;pin-source={pin}").pin()
    assert str(err.value) == f"error reading pin-source {pin}: the PIN is not UTF-8"
    pin.write_bytes("1234 é\n".encode())
    assert parse(f"pkcs11:id=01;pin-source={pin}").pin() == "1234 é"
