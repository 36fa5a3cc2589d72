"""`pystep ca token --batch` against the real step-ca: every token is accepted, jtis are
distinct, JSON output parses, bad lines are reported with their line numbers."""

from __future__ import annotations

import json
import random
import re

from cryptography.hazmat.primitives.asymmetric import ec

from pystep.jose.jws import decode_compact
from tests.conftest import RunPystep
from tests.harness.stepca import StepCA


def _env(ca: StepCA) -> dict[str, str | None]:
    return {"STEPPATH": str(ca.steppath), "HOME": str(ca.steppath), "STEP_NON_INTERACTIVE": "1"}


def _batch(run_pystep: RunPystep, ca: StepCA, text: str, *flags: str):  # type: ignore[no-untyped-def]
    return run_pystep(
        "ca", "token", "--batch", "-", "--provisioner", "admin",
        "--password-file", str(ca.password_file), *flags, input=text, env=_env(ca),
    )


def test_small_batch_all_accepted(run_pystep: RunPystep, step_ca: StepCA) -> None:
    start = step_ca.log_path.stat().st_size
    lines = [
        "b1.example.com",
        '{"subject": "b2.example.com", "sans": ["b2.example.com", "10.0.0.2"]}',
        "# comment",
        '{"subject": "b3.example.com", "not-after": "10m", "set": {"team": "ops"}}',
        '{"subject": "dave@example.com", "ssh": true, "principals": ["dave"]}',
        "b5.example.com",
    ]
    run = _batch(run_pystep, step_ca, "\n".join(lines) + "\n")
    assert run.returncode == 0, run.stderr
    tokens = run.stdout.splitlines()
    assert len(tokens) == 5
    claims = [decode_compact(t).claims for t in tokens]
    assert [c["sub"] for c in claims] == [
        "b1.example.com", "b2.example.com", "b3.example.com", "dave@example.com", "b5.example.com"
    ]
    assert claims[2]["exp"] - claims[2]["nbf"] == 600 and claims[2]["user"] == {"team": "ops"}
    for token, c in zip(tokens, claims, strict=True):
        if "step" in c:
            key = ec.generate_private_key(ec.SECP256R1()).public_key()
            ssh = step_ca.ssh_sign(token, "user", ["dave"], "dave@example.com", key)
            assert ssh.status == 201, (ssh.body, step_ca.log_tail())
        else:
            result = step_ca.sign(token, str(c["sub"]), list(c["sans"]))
            assert result.status == 201, (c, result.body, step_ca.log_tail())
    fetched = re.findall(
        r"path=/provisioners/[^ ]+/encrypted-key",
        step_ca.log_path.read_bytes()[start:].decode("utf-8", "replace"),
    )
    assert len(fetched) == 1  # one key fetch (and decryption) for the whole batch


def test_large_batch_json_sample_accepted(run_pystep: RunPystep, step_ca: StepCA) -> None:
    subjects = [f"h{i:04d}.example.com" for i in range(1000)]
    run = _batch(run_pystep, step_ca, "\n".join(subjects) + "\n", "--format", "json")
    assert run.returncode == 0, run.stderr
    objs = [json.loads(line) for line in run.stdout.splitlines()]
    assert [o["subject"] for o in objs] == subjects
    assert [o["line"] for o in objs] == list(range(1, 1001))
    claims = [decode_compact(o["token"]).claims for o in objs]
    assert [c["sub"] for c in claims] == subjects
    assert len({c["jti"] for c in claims}) == 1000
    for o, c in zip(objs, claims, strict=True):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", o["expires"])
        assert c["exp"] - c["nbf"] == 300
    for index in random.Random(6).sample(range(1000), 15):
        result = step_ca.sign(objs[index]["token"], subjects[index])
        assert result.status == 201, (index, result.body, step_ca.log_tail())


def test_bad_lines_are_reported_and_others_minted(run_pystep: RunPystep, step_ca: StepCA) -> None:
    text = 'ok1.example.com\n{"subject": "x", "not-after": "5h"}\n{"subject":\nok4.example.com\n'
    run = _batch(run_pystep, step_ca, text)
    assert run.returncode == 1
    assert "line 2: requested token validity is too long" in run.stderr
    assert "line 3: " in run.stderr
    assert "2 of 4 lines failed" in run.stderr
    tokens = run.stdout.splitlines()
    subs = [decode_compact(t).claims["sub"] for t in tokens]
    assert subs == ["ok1.example.com", "ok4.example.com"]
    assert step_ca.sign(tokens[1], "ok4.example.com").status == 201


def test_single_token_json_output(run_pystep: RunPystep, step_ca: StepCA) -> None:
    run = run_pystep(
        "ca", "token", "json.example.com", "--format", "json", "--provisioner", "admin",
        "--password-file", str(step_ca.password_file), env=_env(step_ca),
    )
    assert run.returncode == 0, run.stderr
    obj = json.loads(run.stdout)
    assert obj["claims"]["sub"] == "json.example.com"
    assert obj["claims"]["aud"] == f"{step_ca.url}/1.0/sign"
    assert obj["header"]["kid"] == step_ca.provisioners["admin"]["key"]["kid"]
    assert step_ca.sign(obj["token"], "json.example.com").status == 201
