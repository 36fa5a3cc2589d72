"""Wire formats of Nebula certificates: v1 protobuf and v2 DER, read by hand.

* v1 is a protobuf ``RawNebulaCertificate{Details=1, Signature=2}`` whose details are
  ``{Name=1, Ips=2, Subnets=3, Groups=4, NotBefore=5, NotAfter=6, PublicKey=7, IsCA=8,
  Issuer=9, curve=100}``; ``Ips``/``Subnets`` are packed uint32 (address, mask) pairs.
* v2 is DER: ``SEQUENCE{[0] details, [1] curve DEFAULT 0, [2] publicKey, [3] signature}``,
  details ``[0]{[0] name, [1] networks, [2] unsafeNetworks, [3] groups, [4] isCA,
  [5] notBefore, [6] notAfter, [7] issuer}``; a network is address bytes + prefix length.

Both readers are bounded (lengths checked against the buffer, varints at most 10
bytes, DER lengths at most 4 bytes, v2 certificates at most 64 KiB) and need no generic
protobuf or DER dependency. Errors are :class:`NebulaFormatError`; the file-level
loader in :mod:`pystep.keys.nebula` turns them into ``KeyLoadError``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

_MAX_CERT_SIZE = 65536
_MAX_VARINT_BYTES = 10

CERT_BANNER = "NEBULA CERTIFICATE"
CERT_V2_BANNER = "NEBULA CERTIFICATE V2"
Curve = Literal["CURVE25519", "P256"]
_CURVES: dict[int, Curve] = {0: "CURVE25519", 1: "P256"}


class NebulaFormatError(ValueError):
    """The bytes are not a well-formed Nebula certificate."""


@dataclass(frozen=True)
class NebulaCert:
    """The parts of a Nebula certificate a token client needs.

    ``networks`` are the overlay addresses in CIDR form (``10.1.0.1/16``), ``ips`` the
    same addresses without the prefix (what step-ca matches IP SANs against),
    ``unsafe_networks`` the routable subnets (v1 ``Subnets``). ``raw`` is the
    certificate as the ``nebula`` header carries it (the PEM body).
    """

    version: int
    name: str
    ips: list[str]
    networks: list[str]
    groups: list[str]
    not_before: datetime
    not_after: datetime
    public_key: bytes
    curve: Curve
    is_ca: bool
    issuer: str
    raw: bytes
    unsafe_networks: list[str] = field(default_factory=list)
    signature: bytes = b""
    path: str = ""

    def is_expired(self, now: datetime | None = None) -> bool:
        moment = now or datetime.now(UTC)
        return moment < self.not_before or moment > self.not_after


# --- v1: protobuf ---------------------------------------------------------------


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(_MAX_VARINT_BYTES):
        if pos >= len(buf):
            raise NebulaFormatError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value & 0xFFFFFFFFFFFFFFFF, pos
    raise NebulaFormatError("varint too long")


def _proto_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for every field; unknown fields are kept."""
    out: list[tuple[int, int, int | bytes]] = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise NebulaFormatError("field number 0")
        value: int | bytes
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if length > len(buf) - pos:
                raise NebulaFormatError("truncated length-delimited field")
            value, pos = buf[pos : pos + length], pos + length
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if size > len(buf) - pos:
                raise NebulaFormatError("truncated fixed field")
            value, pos = int.from_bytes(buf[pos : pos + size], "little"), pos + size
        else:
            raise NebulaFormatError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _uint32s(wire: int, value: int | bytes) -> list[int]:
    """A repeated uint32, packed (wire type 2) or not (wire type 0)."""
    if isinstance(value, int):
        return [value & 0xFFFFFFFF]
    numbers: list[int] = []
    pos = 0
    while pos < len(value):
        number, pos = _varint(value, pos)
        numbers.append(number & 0xFFFFFFFF)
    return numbers


def _int64(value: int | bytes) -> int:
    if not isinstance(value, int):
        raise NebulaFormatError("expected an integer")
    return value - (1 << 64) if value >= 1 << 63 else value


def _v1_pairs(numbers: list[int]) -> list[ipaddress.IPv4Interface]:
    if len(numbers) % 2:
        raise NebulaFormatError("odd number of address/mask values")
    out: list[ipaddress.IPv4Interface] = []
    for addr, mask in zip(numbers[::2], numbers[1::2], strict=True):
        prefix = bin(mask).count("1")
        if mask != ((1 << 32) - 1) ^ ((1 << (32 - prefix)) - 1):
            raise NebulaFormatError("non-contiguous network mask")
        out.append(ipaddress.IPv4Interface((addr, prefix)))
    return out


def _bytes(value: int | bytes) -> bytes:
    if isinstance(value, int):
        raise NebulaFormatError("expected bytes")
    return value


def _text(value: int | bytes) -> str:
    try:
        return _bytes(value).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NebulaFormatError("invalid UTF-8") from exc


def _parse_v1(raw: bytes) -> NebulaCert:
    details: bytes | None = None
    signature = b""
    for number, _wire, value in _proto_fields(raw):
        if number == 1:
            details = _bytes(value)
        elif number == 2:
            signature = _bytes(value)
    if details is None:
        raise NebulaFormatError("encoded Details was nil")
    name, groups, issuer, public_key = "", [], b"", b""
    ips: list[int] = []
    subnets: list[int] = []
    not_before = not_after = 0
    is_ca, curve_id = False, 0
    for number, wire, value in _proto_fields(details):
        if number == 1:
            name = _text(value)
        elif number == 2:
            ips += _uint32s(wire, value)
        elif number == 3:
            subnets += _uint32s(wire, value)
        elif number == 4:
            groups.append(_text(value))
        elif number == 5:
            not_before = _int64(value)
        elif number == 6:
            not_after = _int64(value)
        elif number == 7:
            public_key = _bytes(value)
        elif number == 8:
            is_ca = bool(value)
        elif number == 9:
            issuer = _bytes(value)
        elif number == 100:
            curve_id = _int64(value)
    if curve_id not in _CURVES:
        raise NebulaFormatError(f"unknown curve {curve_id}")
    addresses = _v1_pairs(ips)
    return NebulaCert(
        version=1,
        name=name,
        ips=[str(a.ip) for a in addresses],
        networks=[str(a) for a in addresses],
        groups=groups,
        not_before=datetime.fromtimestamp(not_before, UTC),
        not_after=datetime.fromtimestamp(not_after, UTC),
        public_key=public_key,
        curve=_CURVES[curve_id],
        is_ca=is_ca,
        issuer=issuer.hex(),
        raw=raw,
        unsafe_networks=[str(s.network) for s in _v1_pairs(subnets)],
        signature=signature,
    )


# --- v2: DER --------------------------------------------------------------------


class _DER:
    """A bounded reader over one level of DER TLVs (single-byte tags only)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def empty(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self) -> int | None:
        return None if self.empty() else self.data[self.pos]

    def read(self, tag: int) -> bytes:
        if self.peek() != tag:
            raise NebulaFormatError(f"expected DER tag 0x{tag:02x}")
        pos = self.pos + 1
        if pos >= len(self.data):
            raise NebulaFormatError("truncated DER length")
        first = self.data[pos]
        pos += 1
        if first < 0x80:
            length = first
        else:
            count = first & 0x7F
            if count == 0 or count > 4 or pos + count > len(self.data):
                raise NebulaFormatError("bad DER length")
            length = int.from_bytes(self.data[pos : pos + count], "big")
            pos += count
        if length > len(self.data) - pos:
            raise NebulaFormatError("truncated DER value")
        self.pos = pos + length
        return self.data[pos : pos + length]

    def optional(self, tag: int) -> bytes | None:
        return self.read(tag) if self.peek() == tag else None

    def read_int(self, tag: int) -> int:
        content = self.read(tag)
        if not 1 <= len(content) <= 8:
            raise NebulaFormatError("bad DER integer")
        return int.from_bytes(content, "big", signed=True)


def _v2_networks(content: bytes | None) -> list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]:
    out: list[ipaddress.IPv4Interface | ipaddress.IPv6Interface] = []
    reader = _DER(content or b"")
    while not reader.empty():
        value = reader.read(0x04)
        if len(value) not in (5, 17) or value[-1] > (len(value) - 1) * 8:
            raise NebulaFormatError("bad network")
        iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface
        if len(value) == 5:
            iface = ipaddress.IPv4Interface((value[:4], value[-1]))
        else:
            iface = ipaddress.IPv6Interface((value[:16], value[-1]))
        out.append(iface)
    return out


def _parse_v2(raw: bytes) -> NebulaCert:
    if not 0 < len(raw) <= _MAX_CERT_SIZE:
        raise NebulaFormatError("bad certificate size")
    outer = _DER(_DER(raw).read(0x30))
    details = _DER(outer.read(0xA0))
    curve_raw = outer.optional(0x81)
    public_key = outer.optional(0x82) or b""
    signature = outer.read(0x83)
    curve_id = 0 if curve_raw is None else int.from_bytes(curve_raw, "big")
    if curve_id not in _CURVES or not public_key or not signature:
        raise NebulaFormatError("bad curve, public key or signature")
    name_raw = details.read(0x80)
    if not 0 < len(name_raw) <= 253:
        raise NebulaFormatError("bad name")
    networks = _v2_networks(details.optional(0xA1))
    unsafe = _v2_networks(details.optional(0xA2))
    groups: list[str] = []
    group_reader = _DER(details.optional(0xA3) or b"")
    while not group_reader.empty():
        groups.append(_text(group_reader.read(0x0C)))
    is_ca_raw = details.optional(0x84)
    if is_ca_raw is not None and (len(is_ca_raw) != 1 or is_ca_raw[0] not in (0, 0xFF)):
        raise NebulaFormatError("bad isCA")
    not_before = details.read_int(0x85)
    not_after = details.read_int(0x86)
    issuer = details.optional(0x87) or b""
    return NebulaCert(
        version=2,
        name=_text(name_raw),
        ips=[str(n.ip) for n in networks],
        networks=[str(n) for n in networks],
        groups=groups,
        not_before=datetime.fromtimestamp(not_before, UTC),
        not_after=datetime.fromtimestamp(not_after, UTC),
        public_key=public_key,
        curve=_CURVES[curve_id],
        is_ca=bool(is_ca_raw and is_ca_raw[0]),
        issuer=issuer.hex(),
        raw=raw,
        unsafe_networks=[str(n.network) for n in unsafe],
        signature=signature,
    )


def parse_raw(data: bytes, version: int) -> NebulaCert:
    """Parse the raw (PEM body) bytes of a v1 or v2 certificate."""
    return _parse_v2(data) if version == 2 else _parse_v1(data)
