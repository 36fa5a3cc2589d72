"""`pystep ca token` flags added for the library work: --batch, --format, --fail-fast and
non-interactive failures that name the flag. Offline (real step v0.19 ca.json), no CA."""

from __future__ import annotations

import json
from pathlib import Path

from jwcrypto import jwk, jws

from tests.conftest import RunPystep

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19"
OFFLINE = (
    "--offline", "--ca-config", str(FIX / "pki" / "ca.json"),
    "--root", str(FIX / "pki" / "root_ca.crt"),
)
PW = ("--password-file", str(FIX / "password.txt"))
NI = {"STEP_NON_INTERACTIVE": "1", "HOME": "/nonexistent-home"}


def _admin_key() -> jwk.JWK:
    cfg = json.loads((FIX / "pki" / "ca.json").read_text())
    rec = next(p for p in cfg["authority"]["provisioners"] if p["name"] == "admin")
    return jwk.JWK(**rec["key"])


def _claims(token: str) -> dict[str, object]:
    obj = jws.JWS()
    obj.deserialize(token)
    obj.verify(_admin_key())
    out: dict[str, object] = json.loads(obj.payload)
    return out


def test_batch_text_from_stdin_and_bad_lines(run_pystep: RunPystep) -> None:
    lines = "a.example.com\n\n{\"subject\": \"b\", \"bogus\": 1}\nc.example.com\n"
    run = run_pystep("ca", "token", "--batch", "-", "--provisioner", "admin", *PW, *OFFLINE,
                     input=lines, env=NI)
    assert run.returncode == 1
    tokens = run.stdout.splitlines()
    assert [_claims(t)["sub"] for t in tokens] == ["a.example.com", "c.example.com"]
    assert "line 3: unknown field 'bogus'" in run.stderr
    assert "1 of 3 lines failed" in run.stderr


def test_batch_json_fail_fast(run_pystep: RunPystep, tmp_path: Path) -> None:
    batch = tmp_path / "b.txt"
    batch.write_text('a\n{"subject": "x", "not-after": "3h"}\nc\n')
    run = run_pystep("ca", "token", "--batch", str(batch), "--format", "json", "--fail-fast",
                     "--provisioner", "admin", *PW, *OFFLINE, env=NI)
    assert run.returncode == 1
    objs = [json.loads(line) for line in run.stdout.splitlines()]
    assert [o["line"] for o in objs] == [1, 2]
    assert set(objs[0]) == {"line", "subject", "token", "expires"}
    assert _claims(objs[0]["token"])["sub"] == "a"
    assert objs[1]["error"].startswith("line 2: requested token validity is too long")


def test_batch_to_output_file(run_pystep: RunPystep, tmp_path: Path) -> None:
    out = tmp_path / "tokens.txt"
    run = run_pystep("ca", "token", "--batch", "-", "--output-file", str(out),
                     "--provisioner", "admin", *PW, *OFFLINE, input="a\nb\n", env=NI)
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    assert [_claims(t)["sub"] for t in out.read_text().splitlines()] == ["a", "b"]
    assert out.stat().st_mode & 0o777 == 0o600


def test_single_token_json(run_pystep: RunPystep) -> None:
    run = run_pystep("ca", "token", "w.example.com", "--format", "json", "--provisioner",
                     "admin", *PW, *OFFLINE, env=NI)
    assert run.returncode == 0, run.stderr
    obj = json.loads(run.stdout)
    assert set(obj) == {"token", "header", "claims"}
    assert obj["claims"] == _claims(obj["token"])
    assert obj["header"]["kid"] == _admin_key()["kid"] and obj["header"]["alg"] == "ES256"


def test_flag_checks(run_pystep: RunPystep) -> None:
    cases = [
        (("--batch", "-", "a.example.com"), "flag '--batch' is incompatible with the <subject>"),
        (("a", "--format", "yaml"), "invalid value 'yaml' for flag '--format'"),
        (("a", "--fail-fast"), "flag '--fail-fast' requires the '--batch' flag"),
        (("--batch", "-", "--password-file", "-"), "cannot both read stdin"),
    ]
    for argv, message in cases:
        run = run_pystep("ca", "token", *argv, *OFFLINE, env=NI)
        assert run.returncode == 1 and message in run.stderr, (argv, run.stderr)


def test_non_interactive_failures_name_the_flag(run_pystep: RunPystep, tmp_path: Path) -> None:
    existing = tmp_path / "exists"
    existing.write_text("old")
    cases = [
        (("a", "--provisioner", "admin"), "use --provisioner-password-file or --password-file"),
        (("a", *PW), "pick one with --provisioner"),
        (("", "--provisioner", "admin", *PW), "give the subject as the <subject> argument"),
        (("a", "--provisioner", "admin", *PW, "--output-file", str(existing)),
         "use --force to overwrite it"),
    ]
    for flag_form in ({"STEP_NON_INTERACTIVE": "1"}, {}):
        for argv, message in cases:
            extra = () if flag_form else ("--non-interactive",)
            run = run_pystep("ca", "token", *argv, *extra, *OFFLINE,
                             env={**flag_form, "HOME": "/nonexistent-home"})
            assert run.returncode == 1 and message in run.stderr, (argv, run.stderr)
    assert existing.read_text() == "old"


def test_non_interactive_context_choice_names_the_flag(
    run_pystep: RunPystep, tmp_path: Path
) -> None:
    (tmp_path / "contexts.json").write_text(json.dumps({
        "one": {"authority": "one", "profile": "one"},
        "two": {"authority": "two", "profile": "two"},
    }))
    run = run_pystep("ca", "token", "a", "--non-interactive", *PW, *OFFLINE,
                     env={"STEPPATH": str(tmp_path)})
    assert run.returncode == 1 and "--context" in run.stderr
