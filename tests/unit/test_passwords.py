from pathlib import Path

import pytest

from pystep.errors import InputError, InteractionRequired, PasswordError
from pystep.passwords import Passwords, read_password_file, try_passwords


def test_password_file_trims_whitespace_and_bom(tmp_path: Path) -> None:
    p = tmp_path / "pw"
    p.write_bytes(b"\xef\xbb\xbfs3cret \t\r\n")
    assert read_password_file(str(p)) == b"s3cret"
    p.write_bytes(b"  inner space kept  \n")
    assert read_password_file(str(p)) == b"  inner space kept"


def test_password_file_missing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="error reading"):
        read_password_file(str(tmp_path / "nope"))


def test_fixed_password_gets_one_attempt() -> None:
    tried: list[bytes] = []

    def attempt(pw: bytes) -> str:
        tried.append(pw)
        raise ValueError("wrong")

    with pytest.raises(PasswordError, match="invalid password"):
        try_passwords(Passwords(fixed=b"a", prompter=lambda _: b"b"), "q", attempt,
                      is_wrong_password=lambda e: isinstance(e, ValueError))
    assert tried == [b"a"]


def test_prompt_gets_three_attempts_and_can_succeed() -> None:
    answers = iter([b"x", b"y", b"right"])
    prompts: list[str] = []

    def prompter(q: str) -> bytes:
        prompts.append(q)
        return next(answers)

    def attempt(pw: bytes) -> str:
        if pw != b"right":
            raise ValueError
        return "ok"

    result = try_passwords(Passwords(prompter=prompter), "Please enter", attempt,
                           is_wrong_password=lambda e: isinstance(e, ValueError))
    assert result == "ok" and prompts == ["Please enter"] * 3


def test_other_errors_propagate_at_once() -> None:
    def attempt(pw: bytes) -> str:
        raise KeyError("not a password problem")

    with pytest.raises(KeyError):
        try_passwords(Passwords(fixed=b"a"), "q", attempt,
                      is_wrong_password=lambda e: isinstance(e, ValueError))


def test_no_source_names_the_flags() -> None:
    with pytest.raises(InteractionRequired) as err:
        list(Passwords(flag_hint="--password-file").candidates("Please enter the password"))
    assert "--password-file" in err.value.diagnostics()
