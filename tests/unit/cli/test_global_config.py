"""step's app-level ``--config <file>``: a defaults.json used instead of $STEPPATH's."""

import json
from pathlib import Path

from pystep.jose.jws import decode_compact
from tests.conftest import RunPystep

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19"


def test_global_config_file_supplies_flags(run_pystep: RunPystep, tmp_path: Path) -> None:
    defaults = tmp_path / "defaults.json"
    defaults.write_text(json.dumps({"root": "pki/root_ca.crt", "ca-config": "pki/ca.json",
                                    "provisioner": "jwk-p384"}))
    for form in (["--config", str(defaults)], [f"--config={defaults}"]):
        res = run_pystep(*form, "ca", "token", "svc.example.com", "--offline",
                         "--password-file", "password.txt", cwd=CORPUS,
                         env={"STEPPATH": str(tmp_path / "empty")})
        assert res.returncode == 0, res.stderr
        claims = decode_compact(res.stdout.strip()).claims
        assert claims["iss"] == "jwk-p384"
        assert claims["aud"] == "https://ca.example.com/sign"


def test_missing_global_config_file(run_pystep: RunPystep, tmp_path: Path) -> None:
    res = run_pystep("--config", str(tmp_path / "nope.json"), "ca", "token", "x",
                     env={"STEPPATH": str(tmp_path)})
    assert res.returncode == 1 and res.stdout == ""
    assert "nope.json" in res.stderr
    res = run_pystep("--config")
    assert res.returncode == 1 and "flag needs an argument: -config" in res.stderr
