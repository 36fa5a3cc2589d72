import json
from pathlib import Path

import pytest

from pystep.ca.offline import load_ca_config
from pystep.errors import ConfigError


def write(tmp_path: Path, cfg: object) -> str:
    p = tmp_path / "ca.json"
    p.write_text(json.dumps(cfg))
    return str(p)


def test_reads_root_dns_and_provisioners(tmp_path: Path) -> None:
    path = write(tmp_path, {
        "root": ["r1.crt", "r2.crt"],
        "dnsNames": ["ca.internal", "10.0.0.1"],
        "authority": {"provisioners": [{"type": "JWK", "name": "admin", "key": {"kid": "k"}}]},
    })
    ca = load_ca_config(path)
    assert ca.root == "r1.crt"
    assert ca.base_url == "https://ca.internal"
    assert [p.name for p in ca.provisioners] == ["admin"]


def test_ipv6_first_dns_name_is_bracketed(tmp_path: Path) -> None:
    path = write(tmp_path, {"root": "r", "dnsNames": ["::1"],
                            "authority": {"provisioners": [{"type": "JWK", "name": "a"}]}})
    assert load_ca_config(path).base_url == "https://[::1]"


def test_missing_dns_names_use_step_ca_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, {"root": "r", "authority": {"provisioners": [{"type": "JWK"}]}})
    assert load_ca_config(path).base_url == "https://localhost"


@pytest.mark.parametrize(
    ("cfg", "msg"),
    [
        ({"root": "r", "authority": {}}, "no provisioners found"),
        ({"authority": {"provisioners": [{"type": "JWK"}]}}, "no root"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_bad_configs(tmp_path: Path, cfg: object, msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        load_ca_config(write(tmp_path, cfg))


def test_unparsable_and_missing(tmp_path: Path) -> None:
    p = tmp_path / "ca.json"
    p.write_text("{nope")
    with pytest.raises(ConfigError, match="error reading"):
        load_ca_config(str(p))
    with pytest.raises(ConfigError, match="error reading"):
        load_ca_config(str(tmp_path / "absent.json"))
