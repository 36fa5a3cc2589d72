"""Decrypting PEM private keys ourselves, leniently, on top of `cryptography` primitives.

step v0.19 writes Ed25519 keys as PKCS#8 ``ENCRYPTED PRIVATE KEY`` whose PBKDF2 PRF
AlgorithmIdentifier carries ``00 00`` where DER wants NULL (``05 00``); OpenSSL and
`cryptography` refuse those files. This module reads PBES2 (PBKDF2 + AES-CBC) itself and
also decrypts legacy ``Proc-Type: 4,ENCRYPTED`` PEM (EVP_BytesToKey + AES-CBC), so that a
wrong password is told apart from a malformed file.
"""

from __future__ import annotations

from collections.abc import Mapping

from pystep.errors import KeyLoadError, PasswordError

MAX_PBKDF2_ITERATIONS = 10_000_000

_OID_PBES2 = "1.2.840.113549.1.5.13"
_OID_PBKDF2 = "1.2.840.113549.1.5.12"
_PRFS = {
    "1.2.840.113549.2.7": "SHA1",
    "1.2.840.113549.2.8": "SHA224",
    "1.2.840.113549.2.9": "SHA256",
    "1.2.840.113549.2.10": "SHA384",
    "1.2.840.113549.2.11": "SHA512",
}
_AES_CBC = {
    "2.16.840.1.101.3.4.1.2": 16,
    "2.16.840.1.101.3.4.1.22": 24,
    "2.16.840.1.101.3.4.1.42": 32,
}
_LEGACY_AES = {"AES-128-CBC": 16, "AES-192-CBC": 24, "AES-256-CBC": 32}


class WrongKeyPassword(PasswordError):
    """The password does not decrypt the PEM key (bad padding or garbage plaintext)."""

    def __init__(self) -> None:
        super().__init__("error decrypting PEM key: invalid password")


class UnsupportedEncryption(KeyLoadError):
    """The PEM uses a scheme this module does not implement; `cryptography` may."""


class _Der:
    """A minimal DER reader: just enough for EncryptedPrivateKeyInfo."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def read(self, expected_tag: int | None = None) -> tuple[int, bytes]:
        data, pos = self.data, self.pos
        if pos + 2 > len(data):
            raise KeyLoadError("error decoding PKCS#8: truncated data")
        tag, length = data[pos], data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4 or pos + count > len(data):
                raise KeyLoadError("error decoding PKCS#8: invalid length")
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        if pos + length > len(data):
            raise KeyLoadError("error decoding PKCS#8: truncated data")
        if expected_tag is not None and tag != expected_tag:
            raise KeyLoadError("error decoding PKCS#8: unexpected structure")
        self.pos = pos + length
        return tag, data[pos:pos + length]

    def seq(self) -> _Der:
        return _Der(self.read(0x30)[1])

    def oid(self) -> str:
        raw = self.read(0x06)[1]
        if not raw:
            raise KeyLoadError("error decoding PKCS#8: invalid OID")
        arcs = [raw[0] // 40, raw[0] % 40] if raw[0] < 80 else [2, raw[0] - 80]
        value = 0
        for byte in raw[1:]:
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                arcs.append(value)
                value = 0
        return ".".join(map(str, arcs))

    def integer(self) -> int:
        return int.from_bytes(self.read(0x02)[1], "big", signed=True)

    def more(self) -> bool:
        return self.pos < len(self.data)


def _unpad(plain: bytes, block: int = 16) -> bytes:
    if not plain or len(plain) % block:
        raise WrongKeyPassword()
    pad = plain[-1]
    if not 1 <= pad <= block or plain[-pad:] != bytes([pad]) * pad:
        raise WrongKeyPassword()
    return plain[:-pad]


def _aes_cbc_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    if len(iv) != 16 or not data or len(data) % 16:
        raise KeyLoadError("error decoding PEM: invalid encrypted data")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return _unpad(decryptor.update(data) + decryptor.finalize())


def _load_der(der: bytes) -> object:
    """Parse decrypted DER; garbage here means the password was wrong."""
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    try:
        return load_der_private_key(der, password=None)
    except (ValueError, TypeError):
        raise WrongKeyPassword() from None


def decrypt_pkcs8(der: bytes, password: bytes) -> object:
    """Decrypt a PKCS#8 EncryptedPrivateKeyInfo (PBES2, PBKDF2-HMAC, AES-CBC) leniently:
    the PRF parameters are not checked. Returns a `cryptography` private key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    outer = _Der(der).seq()
    alg = outer.seq()
    if alg.oid() != _OID_PBES2:
        raise UnsupportedEncryption("unsupported PKCS#8 encryption scheme")
    params = alg.seq()
    kdf = params.seq()
    if kdf.oid() != _OID_PBKDF2:
        raise UnsupportedEncryption("unsupported PKCS#8 key derivation function")
    kdf_params = kdf.seq()
    salt = kdf_params.read(0x04)[1]
    iterations = kdf_params.integer()
    key_length: int | None = None
    prf = "SHA1"
    while kdf_params.more():
        tag = kdf_params.data[kdf_params.pos]
        if tag == 0x02:
            key_length = kdf_params.integer()
        elif tag == 0x30:
            prf_oid = kdf_params.seq().oid()  # parameters ignored: step writes 00 00
            if prf_oid not in _PRFS:
                raise UnsupportedEncryption("unsupported PKCS#8 PRF")
            prf = _PRFS[prf_oid]
        else:
            raise KeyLoadError("error decoding PKCS#8: unexpected structure")
    scheme = params.seq()
    cipher_oid = scheme.oid()
    if cipher_oid not in _AES_CBC:
        raise UnsupportedEncryption("unsupported PKCS#8 cipher")
    iv = scheme.read(0x04)[1]
    encrypted = outer.read(0x04)[1]
    aes_len = _AES_CBC[cipher_oid]
    if key_length is not None and key_length != aes_len:
        raise KeyLoadError("error decoding PKCS#8: key length does not match the cipher")
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS:
        raise KeyLoadError(
            f"refusing to decrypt: PBKDF2 iteration count {iterations} is outside "
            f"1..{MAX_PBKDF2_ITERATIONS}"
        )
    algorithm: hashes.HashAlgorithm = getattr(hashes, prf)()
    key = PBKDF2HMAC(algorithm=algorithm, length=aes_len, salt=salt,
                     iterations=iterations).derive(password)
    return _load_der(_aes_cbc_decrypt(key, iv, encrypted))


def decrypt_legacy_pem(headers: Mapping[str, str], body: bytes, password: bytes) -> object:
    """Decrypt an OpenSSL ``Proc-Type: 4,ENCRYPTED`` PEM body with an AES-CBC DEK-Info."""
    from cryptography.hazmat.primitives import hashes

    dek = headers.get("DEK-Info", "")
    cipher, _, iv_hex = dek.partition(",")
    if cipher.strip().upper() not in _LEGACY_AES:
        raise UnsupportedEncryption("unsupported PEM encryption")
    try:
        iv = bytes.fromhex(iv_hex.strip())
    except ValueError:
        raise KeyLoadError("error decoding PEM: invalid DEK-Info") from None
    if len(iv) != 16:
        raise KeyLoadError("error decoding PEM: invalid DEK-Info")
    key_len = _LEGACY_AES[cipher.strip().upper()]
    # EVP_BytesToKey with MD5, one round, salt = first 8 bytes of the IV.
    key, block = b"", b""
    while len(key) < key_len:
        digest = hashes.Hash(hashes.MD5())
        digest.update(block + password + iv[:8])
        block = digest.finalize()
        key += block
    return _load_der(_aes_cbc_decrypt(key[:key_len], iv, body))
