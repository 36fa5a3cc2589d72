"""step's ``--ca-url`` normalisation, reproducing Go's ``net/url`` parsing.

Kept apart from :mod:`pystep.config` because it is a different idea: what Go's URL
parser accepts. Checked against a table produced by step's algorithm under Go 1.19.
"""

from __future__ import annotations

from pystep.errors import UsageError


def normalize_ca_url(
    value: str, *, allow_empty: bool = False, command: str = "step ca token"
) -> str:
    """step's ``--ca-url`` normalisation: ``https://<host[:port]>`` only.

    A value without ``://`` gets ``https://`` in front; the scheme must then be https
    (case-insensitive); path, query, fragment and user info are dropped; bare IPv6
    addresses are bracketed (``2001:db8::1:8443`` → ``https://[2001:db8::1]:8443``).
    An empty value is a :class:`UsageError` ("requires the '--ca-url' flag") unless
    ``allow_empty`` (``--offline``), where it becomes ``https://``.
    """
    if value == "" and not allow_empty:
        raise UsageError(f"'{command}' requires the '--ca-url' flag")
    url = value if "://" in value else "https://" + value
    try:
        scheme, host = _go_url_scheme_host(url)
    except ValueError:
        raise UsageError(f"invalid value '{url}' for flag '--ca-url'; invalid URL") from None
    if scheme != "https":
        raise UsageError(f"invalid value '{url}' for flag '--ca-url'; must have https scheme")
    return f"{scheme}://{_bracket_ipv6(host)}"


_HOST_PUNCT = frozenset("-_.~!$&'()*+,;=:[]<>\"")
_USERINFO_PUNCT = frozenset("-._:~!$&'()*+,;=%@")
_HEX = frozenset("0123456789abcdefABCDEF")


def _go_url_scheme_host(raw: str) -> tuple[str, str]:
    """The scheme and Host that Go's ``url.Parse`` finds; ValueError where it fails."""
    rest, _, fragment = raw.partition("#")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in rest):
        raise ValueError("invalid control character in URL")
    _check_escapes(fragment)
    scheme = ""
    for i, char in enumerate(rest):
        if char.isascii() and char.isalpha():
            continue
        if char.isascii() and (char.isdigit() or char in "+-.") and i > 0:
            continue
        if char == ":":
            if i == 0:
                raise ValueError("missing protocol scheme")
            scheme, rest = rest[:i].lower(), rest[i + 1 :]
        break
    rest = rest.partition("?")[0]  # Go's ForceQuery case cuts the same way
    if not rest.startswith("/"):
        if scheme:
            return scheme, ""  # opaque URL, no host
        if ":" in rest.partition("/")[0]:
            raise ValueError("first path segment in URL cannot contain colon")
    host = ""
    if rest.startswith("//") and (scheme or not rest.startswith("///")):
        authority, slash, path = rest[2:].partition("/")
        rest = slash + path
        host = _parse_authority(authority)
    _check_escapes(rest)
    return scheme, host


def _check_escapes(text: str) -> None:
    for i, char in enumerate(text):
        if char == "%" and not (text[i + 1 : i + 2] in _HEX and text[i + 2 : i + 3] in _HEX):
            raise ValueError("invalid URL escape")


def _parse_authority(authority: str) -> str:
    userinfo, at, hostpart = authority.rpartition("@")
    if at:
        if any(not (c.isascii() and c.isalnum()) and c not in _USERINFO_PUNCT for c in userinfo):
            raise ValueError("invalid userinfo")
        _check_escapes(userinfo)
    return _parse_host(hostpart)


def _valid_optional_port(port: str) -> bool:
    return port == "" or (port[0] == ":" and all(c in "0123456789" for c in port[1:]))


def _parse_host(host: str) -> str:
    if host.startswith("["):
        end = host.rfind("]")
        if end < 0:
            raise ValueError("missing ']' in host")
        if not _valid_optional_port(host[end + 1 :]):
            raise ValueError("invalid port after host")
        zone = host.find("%25", 0, end)
        if zone >= 0:
            return (
                _unescape_host(host[:zone], zone=False)
                + _unescape_host(host[zone:end], zone=True)
                + _unescape_host(host[end:], zone=False)
            )
    elif ":" in host and not _valid_optional_port(host[host.rfind(":") :]):
        raise ValueError("invalid port after host")
    return _unescape_host(host, zone=False)


def _unescape_host(text: str, *, zone: bool) -> str:
    out = bytearray()
    i = 0
    while i < len(text):
        char = text[i]
        if char == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) < 2 or any(c not in _HEX for c in pair):
                raise ValueError("invalid URL escape")
            byte = int(pair, 16)
            if not zone and byte < 0x80 and pair != "25":
                raise ValueError("invalid URL escape")
            if zone and pair != "25" and byte != 0x20 and _host_needs_escape(chr(byte)):
                raise ValueError("invalid URL escape")
            out.append(byte)
            i += 3
            continue
        if char.isascii() and _host_needs_escape(char):
            raise ValueError("invalid character in host name")
        out.extend(char.encode("utf-8"))
        i += 1
    return out.decode("utf-8", "replace")


def _host_needs_escape(char: str) -> bool:
    return not (char.isascii() and char.isalnum()) and char not in _HOST_PUNCT


def _split_go_host_port(host: str) -> tuple[str, str]:
    """Go's ``URL.Hostname()`` and ``URL.Port()``."""
    colon = host.rfind(":")
    name, port = host, ""
    if colon != -1 and _valid_optional_port(host[colon:]):
        name, port = host[:colon], host[colon + 1 :]
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    return name, port


def _too_many_colons(hostport: str) -> bool:
    """Whether Go's ``net.SplitHostPort`` fails with "too many colons in address"."""
    last = hostport.rfind(":")
    if last < 0:
        return False
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or end + 1 in (len(hostport), last):
            return False
        return hostport[end + 1] == ":"
    return ":" in hostport[:last]


def _go_parse_ip(text: str) -> bool:
    if "%" in text:
        return False
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _bracket_ipv6(host: str) -> str:
    hostname, port = _split_go_host_port(host)
    joined = f"{hostname}:{port}" if port else hostname
    if not _too_many_colons(joined):
        return host
    head, _, tail = joined.rpartition(":")
    if _go_parse_ip(head):
        return f"[{head}]:{tail}"
    if _go_parse_ip(joined):
        return f"[{joined}]"
    return hostname
