"""``python -m tests.harness.extras._moto_digest -p PORT``: moto's server, with KMS Sign
honouring ``MessageType=DIGEST`` as AWS does.

moto 5.x parses MessageType and ignores it, so a DIGEST request has its digest hashed a
second time and the signature only verifies against sha256(digest) — never against
GetPublicKey for the real message (getmoto/moto PR #10202, open). AWS's API_Sign says a
DIGEST message is signed as given; that is what pystep (like step's awskms) sends. This
wrapper fixes just that, so the fake behaves like the service it stands in for.
(Module name starts with ``_``: not an extras provisioner module.)
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from moto.kms import responses
from moto.kms import utils as kms_utils

_STATE = threading.local()
_orig_response_sign = responses.KmsResponse.sign
_orig_ecdsa_sign = kms_utils.ECDSAPrivateKey.sign
_orig_rsa_sign = kms_utils.RSAPrivateKey.sign


def _response_sign(self: Any) -> str:
    _STATE.digest = self._get_param("MessageType") == "DIGEST"
    try:
        return str(_orig_response_sign(self))
    finally:
        _STATE.digest = False


def _ecdsa_sign(self: Any, message: bytes, signing_algorithm: str) -> bytes:
    if not getattr(_STATE, "digest", False):
        return bytes(_orig_ecdsa_sign(self, message, signing_algorithm))
    kms_utils.validate_signing_algorithm(signing_algorithm, self.valid_signing_algorithms)
    hash_alg = self._ECDSAPrivateKey__hash_algorithm(signing_algorithm)
    return bytes(self.private_key.sign(message, ec.ECDSA(Prehashed(hash_alg))))


def _rsa_sign(self: Any, message: bytes, signing_algorithm: str) -> bytes:
    if not getattr(_STATE, "digest", False):
        return bytes(_orig_rsa_sign(self, message, signing_algorithm))
    pad, hash_alg = self._RSAPrivateKey__padding_and_hash_algorithm(signing_algorithm)
    return bytes(self.private_key.sign(message, pad, Prehashed(hash_alg)))


setattr(responses.KmsResponse, "sign", _response_sign)  # noqa: B010
setattr(kms_utils.ECDSAPrivateKey, "sign", _ecdsa_sign)  # noqa: B010
setattr(kms_utils.RSAPrivateKey, "sign", _rsa_sign)  # noqa: B010

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
