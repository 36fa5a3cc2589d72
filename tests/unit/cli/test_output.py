import os
import stat
from pathlib import Path

import pytest

from pystep.cli.output import write_token_file
from pystep.errors import InputError


def test_new_file_is_0600_without_newline(tmp_path: Path) -> None:
    p = tmp_path / "tok"
    old = os.umask(0)
    try:
        write_token_file(str(p), "abc.def.ghi", force=False, confirm=None)
    finally:
        os.umask(old)
    assert p.read_text() == "abc.def.ghi"
    assert stat.S_IMODE(p.stat().st_mode) == 0o600


def test_existing_file_needs_force_or_yes(tmp_path: Path) -> None:
    p = tmp_path / "tok"
    p.write_text("old")
    with pytest.raises(InputError, match="file exists"):
        write_token_file(str(p), "new", force=False, confirm=None)
    with pytest.raises(InputError, match="file exists"):
        write_token_file(str(p), "new", force=False, confirm=lambda q: False)
    assert p.read_text() == "old"
    asked: list[str] = []
    write_token_file(str(p), "new", force=False, confirm=lambda q: asked.append(q) or True)
    assert p.read_text() == "new" and asked == [f"Would you like to overwrite {p}"]
    write_token_file(str(p), "newer", force=True, confirm=None)
    assert p.read_text() == "newer"


def test_directory_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file is a directory"):
        write_token_file(str(tmp_path), "x", force=True, confirm=None)


def test_no_partial_file_when_folder_missing(tmp_path: Path) -> None:
    p = tmp_path / "missing" / "tok"
    with pytest.raises(InputError, match="error writing"):
        write_token_file(str(p), "x", force=False, confirm=None)
    assert not p.exists()
