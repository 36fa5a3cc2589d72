import re
from datetime import UTC, datetime, timedelta

import pytest

from pystep.claims import step_claims, token_times
from pystep.errors import TokenError
from pystep.request import TokenKind, TokenRequest
from pystep.timeutil import TimeDuration

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def claims(req: TokenRequest) -> dict[str, object]:
    return step_claims(req, issuer="admin", audience="https://ca/1.0/sign", now=NOW, sha="ab")


def test_sign_defaults_sans_to_subject_and_five_minutes() -> None:
    c = claims(TokenRequest("svc.example.com", user={}))
    assert c["sans"] == ["svc.example.com"]
    assert (c["iat"], c["nbf"], c["exp"]) == (T, T, T + 300)
    assert c["user"] == {}
    assert re.fullmatch(r"[0-9a-f]{64}", str(c["jti"]))
    assert c["sha"] == "ab"
    assert "step" not in c and "cnf" not in c


def test_jti_differs_each_time() -> None:
    assert claims(TokenRequest("a"))["jti"] != claims(TokenRequest("a"))["jti"]


def test_revoke_has_only_base_claims() -> None:
    c = claims(TokenRequest("1234", kind=TokenKind.REVOKE, user={}))
    assert set(c) == {"sub", "iss", "aud", "iat", "nbf", "exp", "jti", "sha"}


def test_ssh_user_claim_shape() -> None:
    req = TokenRequest(
        "alice@example.com",
        kind=TokenKind.SSH_USER_SIGN,
        principals=("alice",),
        cert_not_after=TimeDuration.parse("8h"),
    )
    c = claims(req)
    assert c["step"] == {
        "ssh": {
            "certType": "user",
            "keyID": "alice@example.com",
            "principals": ["alice"],
            "validAfter": "",
            "validBefore": "8h0m0s",
        }
    }
    assert "sans" not in c


def test_ssh_host_without_principals_is_empty_list() -> None:
    c = claims(TokenRequest("h", kind=TokenKind.SSH_HOST_SIGN))
    assert c["step"]["ssh"]["certType"] == "host"  # type: ignore[index]
    assert c["step"]["ssh"]["principals"] == []  # type: ignore[index]


def test_cnf_only_on_sign() -> None:
    assert claims(TokenRequest("a", cnf="fp"))["cnf"] == {"x5rt#S256": "fp"}
    assert "cnf" not in claims(TokenRequest("a", kind=TokenKind.REVOKE, cnf="fp"))


def test_validity_window_rules() -> None:
    req = TokenRequest("a", not_after=NOW + timedelta(minutes=10))
    times = token_times(req, NOW)
    assert (times.nbf, times.exp) == (T, T + 600)
    # missing not-after = not-before + 5 min
    t2 = token_times(TokenRequest("a", not_before=NOW + timedelta(minutes=1)), NOW)
    assert (t2.nbf, t2.exp) == (T + 60, T + 360)


@pytest.mark.parametrize(
    ("nb", "na", "msg"),
    [
        (None, timedelta(seconds=5), "too short"),
        (None, timedelta(hours=2), "too long"),
        (timedelta(minutes=31), timedelta(minutes=40), "delay is too long"),
        (timedelta(minutes=10), timedelta(minutes=5), "nbf < exp"),
    ],
)
def test_validity_limits(nb: timedelta | None, na: timedelta, msg: str) -> None:
    req = TokenRequest("a", not_before=NOW + nb if nb else None, not_after=NOW + na)
    with pytest.raises(TokenError, match=msg):
        token_times(req, NOW)


def test_empty_subject_refused() -> None:
    with pytest.raises(TokenError, match="subject cannot be empty"):
        claims(TokenRequest(""))
