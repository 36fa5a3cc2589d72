"""A name that looks like a file path is never read as a KMS key name."""

from __future__ import annotations

import pytest

from pystep.errors import KMSError
from pystep.kms import KmsOptions, resolve


@pytest.mark.parametrize("name", ["./nope.key", "../keys/k.pem", "/no/such/file", "~/k.json"])
@pytest.mark.parametrize("kms", [None, "pkcs11:module-path=/x.so;token=t", "awskms:region=x"])
def test_path_like_name_is_a_missing_file(name: str, kms: str | None) -> None:
    with pytest.raises(KMSError) as err:
        resolve(name, KmsOptions(kms_uri=kms))
    assert str(err.value) == f"open {name}: no such file or directory"


@pytest.mark.parametrize(
    ("name", "kms", "scheme"),
    [
        ("nope.key", "pkcs11:module-path=/x.so;token=t", "pkcs11"),
        ("arn:aws:kms:us-east-1:1:key/abc", "awskms:region=us-east-1", "awskms"),
        ("pkcs11:id=%01", None, "pkcs11"),
    ],
)
def test_other_names_still_resolve(name: str, kms: str | None, scheme: str) -> None:
    assert resolve(name, KmsOptions(kms_uri=kms)).key_uri.scheme == scheme


def test_unknown_scheme_is_not_a_path() -> None:
    with pytest.raises(KMSError, match=r"^foo:bar is not a file and not a KMS URI"):
        resolve("foo:bar", KmsOptions())
