"""The library API against the real step-ca: unlock once, mint several kinds, the CA
accepts them; the session module's docstring examples run here too."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from pystep.errors import CAError, PasswordError
from pystep.session import TokenSession
from tests.harness.stepca import StepCA

REPO = Path(__file__).resolve().parents[2]


def _log_size(ca: StepCA) -> int:
    return ca.log_path.stat().st_size


def _requests_since(ca: StepCA, offset: int, pattern: str) -> int:
    with ca.log_path.open("rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", "replace")
    return len(re.findall(pattern, text))


def test_unlock_once_mint_kinds_accepted(step_ca: StepCA) -> None:
    start = _log_size(step_ca)
    with TokenSession(step_ca.url, str(step_ca.root_path)) as session:
        minter = session.unlock("admin", password_file=str(step_ca.password_file))
        sign = minter.sign("lib.example.com", sans=["lib.example.com", "10.9.8.7"])
        signed = step_ca.sign(sign, "lib.example.com", ["lib.example.com", "10.9.8.7"])
        assert signed.status == 201, (signed.body, step_ca.log_tail())
        assert sorted(signed.sans) == ["10.9.8.7", "lib.example.com"]
        assert signed.certificate is not None
        serial = signed.certificate.serial_number
        assert step_ca.revoke(minter.revoke(serial), serial) == (200, {"status": "ok"})
        user_key = ec.generate_private_key(ec.SECP256R1()).public_key()
        ssh = step_ca.ssh_sign(
            minter.ssh_user("carol@example.com", ["carol"]), "user", ["carol"],
            "carol@example.com", user_key,
        )
        assert ssh.status == 201, (ssh.body, step_ca.log_tail())
        assert ssh.certificate is not None and ssh.certificate.valid_principals == [b"carol"]
        host = step_ca.ssh_sign(
            minter.ssh_host("h.example.com", ["h.example.com"]), "host", ["h.example.com"],
            "h.example.com", user_key,
        )
        assert host.status == 201, (host.body, step_ca.log_tail())
        for i in range(3):  # more tokens: no more key fetches
            assert step_ca.sign(minter.sign(f"n{i}.example.com"), f"n{i}.example.com").status == 201
    assert _requests_since(step_ca, start, r"path=/provisioners/[^ ]+/encrypted-key") == 1
    assert _requests_since(step_ca, start, r'path="/provisioners\?') == 1


def test_errors_are_pystep_errors(step_ca: StepCA) -> None:
    session = TokenSession(step_ca.url, str(step_ca.root_path))
    with pytest.raises(PasswordError, match="invalid password"):
        session.unlock("admin", password="wrong")
    other = TokenSession(step_ca.url, str(step_ca.pki.intermediate_cert))
    with pytest.raises(CAError):
        other.provisioners()


def test_from_steppath(step_ca: StepCA) -> None:
    session = TokenSession.from_steppath(
        environ={"STEPPATH": str(step_ca.steppath), "HOME": str(step_ca.steppath)}
    )
    assert session.ca_url == step_ca.url
    minter = session.unlock("jwk-p384", password="password")
    assert step_ca.sign(minter.sign("p384.example.com"), "p384.example.com").status == 201


def test_session_docstring_examples(step_ca: StepCA) -> None:
    import pystep.session

    globs = {
        "ca_url": step_ca.url,
        "root": str(step_ca.root_path),
        "password_file": str(step_ca.password_file),
    }
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = finder.find(pystep.session, globs=globs)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 8 and result.failed == 0


def _code_blocks(path: str) -> list[str]:
    text = (REPO / path).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)





def test_docs_library_examples_run(step_ca: StepCA, capsys: pytest.CaptureFixture[str]) -> None:
    blocks = _code_blocks("docs/library.md")
    assert len(blocks) >= 4
    for block in blocks:
        namespace = {
            "ca_url": step_ca.url,
            "root": str(step_ca.root_path),
            "password_file": str(step_ca.password_file),
            "steppath": str(step_ca.steppath),
        }
        exec(compile(block, "docs/library.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "use password= or password_file=" in out
    assert "failed to decrypt JWE: invalid password" in out
    assert "line 3: requested token validity is too long" in out


def test_unlock_x5c_chain(step_ca: StepCA, tmp_path: Path) -> None:
    """``unlock(..., x5c_chain=[...])``: a leaf-only certificate plus the chain file gives
    a token the X5C provisioner accepts; without the chain the CA refuses it."""
    from pystep.provisioners.base import Credentials
    from tests.harness.extras import x5c as extra

    d = extra.paths(step_ca.workdir)
    pems = (d / "good.crt").read_text().split("-----END CERTIFICATE-----")
    leaf, inter = (p.strip() + "\n-----END CERTIFICATE-----\n" for p in pems[:2])
    (tmp_path / "leaf.crt").write_text(leaf)
    (tmp_path / "chain.crt").write_text(inter)
    creds = Credentials(x5c_cert=str(tmp_path / "leaf.crt"), x5c_key=str(d / "good.key"))
    cn = extra.LEAF_CN
    with TokenSession(step_ca.url, str(step_ca.root_path)) as session:
        chain = [str(tmp_path / "chain.crt")]
        chained = session.unlock(extra.NAME, credentials=creds, x5c_chain=chain,
                                 password_file=str(d / "password.txt"))  # fmt: skip
        assert step_ca.sign(chained.sign(cn), cn).status == 201
        alone = session.unlock(extra.NAME, credentials=creds,
                               password_file=str(d / "password.txt"))  # fmt: skip
        assert step_ca.sign(alone.sign(cn), cn).status == 401
