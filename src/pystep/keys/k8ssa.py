"""The Kubernetes service-account token a K8sSA "token" is (``--k8ssa-token-path``).

step hands the file's bytes to the CA untouched. We trim trailing white space (the
newline an editor or ``echo`` leaves) because a JWT never ends in one and step-ca
would otherwise receive ``<jwt>\\n``, which it cannot parse; and we refuse content that
is not a compact JWS so that a wrong path fails here with a clear message rather than
as an opaque 401 from the CA.
"""

from __future__ import annotations

from pystep import _json
from pystep.errors import InputError
from pystep.jose.encoding import b64url_decode

DEFAULT_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
MAX_TOKEN_SIZE = 64 * 1024
_PREFIX = "error reading kubernetes service account token"


def read_service_account_token(path: str = DEFAULT_TOKEN_PATH) -> str:
    """The token in ``path`` with trailing white space removed; it must be a compact JWT."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TOKEN_SIZE + 1)
    except FileNotFoundError as exc:
        raise InputError(
            f"{_PREFIX}: open {path}: no such file or directory",
            hint="pass the token file with --k8ssa-token-path",
        ) from exc
    except OSError as exc:
        raise InputError(f"{_PREFIX}: open {path}: {exc.strerror or exc}") from exc
    not_jwt = InputError(f"{_PREFIX}: {path} is not a JWT")
    if len(data) > MAX_TOKEN_SIZE:
        raise not_jwt
    try:
        token = data.rstrip().decode("ascii")
    except UnicodeDecodeError as exc:
        raise not_jwt from exc
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]) or any(c.isspace() for c in token):
        raise not_jwt
    try:
        header = _json.loads(b64url_decode(parts[0]))
        b64url_decode(parts[1])
        b64url_decode(parts[2])
    except ValueError as exc:  # bad base64url, bad UTF-8 or bad JSON
        raise not_jwt from exc
    if not isinstance(header, dict):
        raise not_jwt
    return token
