"""Keys held by an ssh-agent (``sshagentkms:<comment>``), over ``$SSH_AUTH_SOCK``.

A small client of the agent protocol (draft-miller-ssh-agent): REQUEST_IDENTITIES (11)
→ IDENTITIES_ANSWER (12) to find the key by comment (or ``SHA256:`` fingerprint), then
SIGN_REQUEST (13) → SIGN_RESPONSE (14). The agent hashes the data itself, with the hash
the key type implies, which is the JOSE alg's hash for ECDSA; RSA asks for rsa-sha2-256.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pystep.errors import KMSError
from pystep.jose.signer import PublicKey
from pystep.kms import KmsOptions
from pystep.kms._sig import KeySigner, ints_to_raw
from pystep.kms.uri import KmsUri, has_scheme, redact_uri

SSH_AGENT_FAILURE = 5
SSH_AGENTC_REQUEST_IDENTITIES = 11
SSH_AGENT_IDENTITIES_ANSWER = 12
SSH_AGENTC_SIGN_REQUEST = 13
SSH_AGENT_SIGN_RESPONSE = 14
SSH_AGENT_RSA_SHA2_256 = 2

MAX_MESSAGE = 256 * 1024
TIMEOUT = 30.0

_EC_CURVES: dict[str, ec.EllipticCurve] = {
    "nistp256": ec.SECP256R1(),
    "nistp384": ec.SECP384R1(),
    "nistp521": ec.SECP521R1(),
}


class _Reader:
    """Bounds-checked reads of SSH wire types."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self._pos + n > len(self._data):
            raise KMSError("sshagentkms: malformed answer from the ssh-agent")
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def uint32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def string(self) -> bytes:
        return self.take(self.uint32())

    def mpint(self) -> int:
        return int.from_bytes(self.string(), "big", signed=True)


def _string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


@dataclass(frozen=True)
class AgentKey:
    blob: bytes
    comment: str

    @property
    def key_type(self) -> str:
        return _Reader(self.blob).string().decode("ascii", "replace")

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


class AgentClient:
    """One request per connection to the agent socket."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path

    def _call(self, msg_type: int, payload: bytes) -> tuple[int, _Reader]:
        body = bytes([msg_type]) + payload
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(TIMEOUT)
                sock.connect(self.socket_path)
                sock.sendall(struct.pack(">I", len(body)) + body)
                (length,) = struct.unpack(">I", _recv_exact(sock, 4))
                if length < 1 or length > MAX_MESSAGE:
                    raise KMSError(f"sshagentkms: ssh-agent answer of {length} bytes refused")
                answer = _recv_exact(sock, length)
        except OSError as exc:
            reason = exc.strerror or str(exc) or type(exc).__name__
            raise KMSError(
                f"sshagentkms: cannot talk to the ssh-agent at {self.socket_path}: {reason}"
            ) from None
        return answer[0], _Reader(answer[1:])

    def list_keys(self) -> list[AgentKey]:
        kind, r = self._call(SSH_AGENTC_REQUEST_IDENTITIES, b"")
        if kind != SSH_AGENT_IDENTITIES_ANSWER:
            raise KMSError("sshagentkms: the ssh-agent refused to list its keys")
        keys = []
        for _ in range(r.uint32()):
            blob = r.string()
            comment = r.string().decode("utf-8", "replace")
            keys.append(AgentKey(blob, comment))
        return keys

    def sign(self, key: AgentKey, data: bytes, flags: int = 0) -> tuple[str, bytes]:
        """(signature format name, signature blob)."""
        payload = _string(key.blob) + _string(data) + struct.pack(">I", flags)
        kind, r = self._call(SSH_AGENTC_SIGN_REQUEST, payload)
        if kind == SSH_AGENT_FAILURE:
            raise KMSError(f"sshagentkms: the ssh-agent refused to sign with '{key.comment}'")
        if kind != SSH_AGENT_SIGN_RESPONSE:
            raise KMSError(f"sshagentkms: unexpected ssh-agent answer type {kind}")
        sig = _Reader(r.string())
        return sig.string().decode("ascii", "replace"), sig.string()


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(65536, n - len(buf)))
        if not chunk:
            raise KMSError("sshagentkms: the ssh-agent closed the connection")
        buf += chunk
    return bytes(buf)


def parse_public_key(blob: bytes) -> PublicKey:
    """An SSH public key blob (ecdsa-sha2-*, ssh-ed25519, ssh-rsa) → cryptography key."""
    r = _Reader(blob)
    key_type = r.string().decode("ascii", "replace")
    if key_type.startswith("ecdsa-sha2-"):
        curve_name = r.string().decode("ascii", "replace")
        curve = _EC_CURVES.get(curve_name)
        if curve is None:
            raise KMSError(f'unsupported elliptic curve "{curve_name}"')
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, r.string())
        except ValueError:
            raise KMSError("sshagentkms: malformed ECDSA key in the ssh-agent") from None
    if key_type == "ssh-ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(r.string())
    if key_type == "ssh-rsa":
        e = r.mpint()
        n = r.mpint()
        return rsa.RSAPublicNumbers(e, n).public_key()
    raise KMSError(f"sshagentkms: unsupported key type {key_type}")


class SshAgentSigner(KeySigner):
    """A Signer whose private key lives in the ssh-agent."""

    def __init__(self, client: AgentClient, key: AgentKey) -> None:
        super().__init__(parse_public_key(key.blob))
        self._client = client
        self._key = key

    def sign(self, signing_input: bytes) -> bytes:
        if self._alg == "RS256":
            fmt, blob = self._client.sign(self._key, signing_input, SSH_AGENT_RSA_SHA2_256)
            if fmt != "rsa-sha2-256":
                raise KMSError(f"sshagentkms: the ssh-agent signed with {fmt}, not rsa-sha2-256")
            return blob
        fmt, blob = self._client.sign(self._key, signing_input)
        if self._alg == "EdDSA":
            if fmt != "ssh-ed25519" or len(blob) != 64:
                raise KMSError("sshagentkms: malformed Ed25519 signature from the ssh-agent")
            return blob
        r = _Reader(blob)
        return ints_to_raw(r.mpint(), r.mpint(), self._alg)


def _key_name(key_uri: KmsUri) -> str:
    raw = key_uri.raw
    if has_scheme(raw) == "sshagentkms":
        return raw[len("sshagentkms:") :]
    return raw


def open_signer(key_uri: KmsUri, kms_uri: KmsUri | None, opts: KmsOptions) -> SshAgentSigner:
    """The agent key whose comment (or SHA256 fingerprint) is the key name."""
    sock = opts.env.get("SSH_AUTH_SOCK")
    if not sock:
        raise KMSError("sshagentkms: SSH_AUTH_SOCK is not set: no ssh-agent to use")
    name = _key_name(key_uri)
    if not name:
        raise KMSError("sshagentkms: the key name needs a key comment, e.g. sshagentkms:me@host")
    client = AgentClient(sock)
    keys = client.list_keys()
    for key in keys:
        if key.comment == name or key.fingerprint == name:
            return SshAgentSigner(client, key)
    shown = redact_uri(name)
    raise KMSError(f"sshagentkms: no key with comment or fingerprint '{shown}' in the ssh-agent")
