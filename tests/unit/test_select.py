import pytest

from pystep.errors import ProvisionerError, UsageError
from pystep.provisioners.base import ProvisionerRecord
from pystep.provisioners.select import Filters, candidates, choose

RECORDS = [
    ProvisionerRecord({"type": "JWK", "name": "admin", "key": {"kid": "k1"}}),
    ProvisionerRecord({"type": "jwk", "name": "ops", "key": {"kid": "k2"}}),
    ProvisionerRecord({"type": "OIDC", "name": "google", "clientID": "cid"}),
    ProvisionerRecord({"type": "X5C", "name": "x5c"}),
    ProvisionerRecord({"type": "ACME", "name": "acme"}),
    ProvisionerRecord({"type": "Mystery", "name": "m"}),
]


def test_labels_like_step() -> None:
    assert RECORDS[0].label == "admin (JWK) [kid: k1]"
    assert RECORDS[1].label == "ops (JWK) [kid: k2]"  # type matched case-insensitively
    assert RECORDS[2].label == "google (OIDC) [client: cid]"
    assert RECORDS[3].label == "x5c (X5C)"


def test_unknown_types_are_dropped() -> None:
    names = [r.name for r in candidates(RECORDS, Filters())]
    assert "m" not in names and len(names) == 5


def test_kid_keeps_jwk_and_oidc_client() -> None:
    assert [r.name for r in candidates(RECORDS, Filters(kid="k2"))] == ["ops"]
    assert [r.name for r in candidates(RECORDS, Filters(kid="cid"))] == ["google"]
    with pytest.raises(UsageError, match="invalid value 'nope' for flag '--kid'"):
        candidates(RECORDS, Filters(kid="nope"))


def test_name_filter_and_type_filter() -> None:
    assert [r.name for r in candidates(RECORDS, Filters(only_type="X5C"))] == ["x5c"]
    with pytest.raises(UsageError, match="invalid value 'admin' for flag '--provisioner'"):
        candidates(RECORDS, Filters(only_type="X5C", name="admin"))
    with pytest.raises(ProvisionerError, match="does not have any provisioner configured"):
        candidates(RECORDS, Filters(only_type="Nebula"))


def test_choose_without_chooser_lists_candidates() -> None:
    found = candidates(RECORDS, Filters(only_type="JWK"))
    with pytest.raises(ProvisionerError) as err:
        choose(found, chooser=None)
    text = err.value.diagnostics()
    assert "admin (JWK) [kid: k1]" in text and "ops (JWK) [kid: k2]" in text
    assert "--provisioner" in text
    assert choose(found, chooser=lambda items: items[1]).name == "ops"
    assert choose(found[:1], chooser=None).name == "admin"
