"""The shared rules: audiences and matching, claim types, time leeway, SAN splitting."""

from __future__ import annotations

import pytest

from pystep.provisioners.base import ProvisionerRecord
from pystep.verify.audience import audiences, fragment_of, load_by_token, matches
from pystep.verify.claims import parse_claims, time_problem
from pystep.verify.csr import split_sans
from pystep.verify.result import Operation


def test_audience_lists_follow_dns_names() -> None:
    sign = audiences(["ca.test", "::1"], Operation.SIGN)
    assert sign[0] == "step-certificate-authority"
    assert "https://ca.test/1.0/sign" in sign and "https://[::1]/ssh/sign" in sign
    assert audiences(["ca.test"], Operation.RENEW) == ["https://ca.test/1.0/renew",
                                                        "https://ca.test/renew"]
    x5c = audiences(["ca.test"], Operation.REVOKE, "x5c/p")
    assert "https://ca.test/1.0/revoke#x5c/p" in x5c
    assert "step-certificate-authority" not in x5c


@pytest.mark.parametrize(("aud", "ok"), [
    ("https://ca.test/1.0/sign", True),
    ("https://ca.test:9000/1.0/sign", True),  # port ignored
    ("http://ca.test/1.0/sign", False),  # scheme compared
    ("https://ca.test/1.0/sign/", False),  # path exact
    ("https://CA.test/1.0/sign", False),  # host case-sensitive
    ("https://ca.test/1.0/sign?x=1", False),
    ("https://ca.test/1.0/sign#frag", False),
    ("step-certificate-authority", True),
])
def test_matching_rule(aud: str, ok: bool) -> None:
    assert matches([aud], audiences(["ca.test"], Operation.SIGN)) is ok


def test_lookup_by_fragment_and_by_iss_kid() -> None:
    jwk = ProvisionerRecord({"type": "JWK", "name": "admin", "key": {"kid": "k1"}})
    x5c = ProvisionerRecord({"type": "X5C", "name": "x"})
    records = [jwk, x5c]
    aud = ["https://ca.test/1.0/sign#x5c/x"]
    assert fragment_of(aud) == "x5c/x"
    assert load_by_token(records, ["ca.test"], {"iss": "x"}, aud, "")[0] is x5c
    plain = ["https://ca.test/1.0/sign"]
    assert load_by_token(records, ["ca.test"], {"iss": "admin"}, plain, "k1")[0] is jwk
    assert load_by_token(records, ["ca.test"], {"iss": "admin"}, plain, "k2")[0] is None
    assert load_by_token(records, ["other.test"], {"iss": "admin"}, plain, "k1")[0] is None


def test_claim_types_as_go_reads_them() -> None:
    c = parse_claims({"iss": "a", "aud": "x", "exp": 10.5, "sans": ["a"], "SUB": "s"})
    assert c.aud == ["x"] and c.exp == 10.5 and c.sub == "s"
    bads: list[dict[str, object]] = [
        {"sans": "a"}, {"exp": "1"}, {"aud": 3}, {"aud": ["a", 1]}, {"iss": 1},
        {"nbf": True}, {"jti": []},
    ]
    for bad in bads:
        with pytest.raises(ValueError):
            parse_claims(bad)


def test_time_leeway_is_sixty_seconds() -> None:
    now = 1_000_000.0
    assert time_problem(parse_claims({"exp": now - 59}), now) is None
    assert "expired" in (time_problem(parse_claims({"exp": now - 61}), now) or "")
    assert time_problem(parse_claims({"nbf": now + 59}), now) is None
    assert "nbf" in (time_problem(parse_claims({"nbf": now + 61}), now) or "")
    assert "iat" in (time_problem(parse_claims({"iat": now + 61}), now) or "")
    assert time_problem(parse_claims({}), now) is None


def test_split_sans_like_x509util() -> None:
    dns, ips, emails, uris = split_sans(["a.test", "10.0.0.1", "::1", "u@x", "spiffe://t/w",
                                         "mailto:x@y"])
    assert dns == ["a.test"] and ips == ["10.0.0.1", "::1"]
    assert emails == ["u@x"] and uris == ["spiffe://t/w", "mailto:x@y"]


def test_operation_names() -> None:
    assert Operation.parse("ssh-sign") is Operation.SSH_SIGN
    assert Operation.parse("sshsign") is Operation.SSH_SIGN
    with pytest.raises(ValueError):
        Operation.parse("nope")
