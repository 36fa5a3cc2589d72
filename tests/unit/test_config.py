# ruff: noqa: E501  (the Go-generated --ca-url table keeps its literal messages)
"""Tests of pystep.config: STEPPATH, contexts, defaults.json and --ca-url normalisation.

The layouts under tests/fixtures/step-v0.19/ are the STEPPATH folders the real step
v0.19 used (see that folder's PROVENANCE.md); other layouts are built in tmp_path.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from pystep.config import StepEnvironment, go_clean, load_environment, normalize_ca_url
from pystep.errors import ConfigError, PystepError, UsageError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "step-v0.19"


def write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


class Notes:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)


def env_for(base: Path | str, home: str = "/nonexistent-home") -> dict[str, str]:
    return {"HOME": home, "STEPPATH": str(base)}


# --- STEPPATH and HOME -------------------------------------------------------------


def test_default_steppath_is_home_dot_step(tmp_path: Path) -> None:
    write_json(tmp_path / ".step" / "config" / "defaults.json", {"ca-url": "https://h"})
    result = load_environment({"HOME": str(tmp_path)})
    assert result.base_path == str(tmp_path / ".step")
    assert result.step_path == result.base_path
    assert result.defaults == {"ca-url": "https://h"}
    assert result.home == str(tmp_path)


def test_empty_steppath_means_default(tmp_path: Path) -> None:
    result = load_environment({"HOME": str(tmp_path), "STEPPATH": ""})
    assert result.base_path == str(tmp_path / ".step")


def test_steppath_is_cleaned(tmp_path: Path) -> None:
    result = load_environment({"HOME": "/h", "STEPPATH": f"{tmp_path}//a/../b/"})
    assert result.base_path == f"{tmp_path}/b"
    assert result.default_root == f"{tmp_path}/b/certs/root_ca.crt"


def test_go_clean() -> None:
    assert go_clean("") == "."
    assert go_clean("a/./b/../c/") == "a/c"
    assert go_clean("//x//y") == "/x/y"
    assert go_clean("../a") == "../a"


def test_home_from_user_record_when_unset(tmp_path: Path) -> None:
    result = load_environment({"STEPPATH": str(tmp_path)})
    import pwd

    assert result.home == go_clean(pwd.getpwuid(os.getuid()).pw_dir)


def test_missing_steppath_directory_is_not_created(tmp_path: Path) -> None:
    base = tmp_path / "absent"
    result = load_environment(env_for(base))
    assert not base.exists()
    assert result.defaults == {}
    assert result.config_files == ()
    assert result.context is None


def test_relative_steppath_is_kept_relative(monkeypatch: pytest.MonkeyPatch) -> None:
    # As the corpus ran: cwd = the corpus folder, STEPPATH=steppath.
    monkeypatch.chdir(FIXTURES)
    result = load_environment({"HOME": "/h", "STEPPATH": "steppath"})
    assert result.base_path == "steppath"
    assert result.step_path == "steppath"
    assert result.default_root == "steppath/certs/root_ca.crt"
    assert result.default_ca_config == "steppath/config/ca.json"
    assert result.config_files == ("steppath/config/defaults.json",)
    # Relative paths in defaults.json are kept as written (relative to the CWD).
    assert result.defaults["root"] == "pki/root_ca.crt"
    assert result.defaults["ca-config"] == "pki/ca.json"
    assert result.defaults["ca-url"] == "https://127.0.0.1:9200"
    assert result.defaults["fingerprint"].startswith("46e3b5a0")


def test_steppath_root_only_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    result = load_environment({"HOME": "/h", "STEPPATH": "steppath-root-only"})
    assert result.defaults == {}
    assert os.path.isfile(result.default_root)
    assert result.default_root == "steppath-root-only/certs/root_ca.crt"


def test_result_is_immutable(tmp_path: Path) -> None:
    write_json(tmp_path / "config" / "defaults.json", {"a": 1})
    result = load_environment(env_for(tmp_path))
    assert isinstance(result, StepEnvironment)
    with pytest.raises(TypeError):
        result.defaults["a"] = 2  # type: ignore[index]
    with pytest.raises(AttributeError):
        result.base_path = "x"  # type: ignore[misc]


# --- vintage ---------------------------------------------------------------------


def test_vintage_config_file_replaces_defaults(tmp_path: Path) -> None:
    write_json(tmp_path / "config" / "defaults.json", {"ca-url": "https://default"})
    other = tmp_path / "other.json"
    write_json(other, {"ca-url": "https://other"})
    result = load_environment(env_for(tmp_path), config_file=str(other))
    assert result.defaults == {"ca-url": "https://other"}
    assert result.config_files == (str(other),)


def test_vintage_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.json"):
        load_environment(env_for(tmp_path), config_file=str(tmp_path / "missing.json"))


def test_vintage_keeps_banned_keys(tmp_path: Path) -> None:
    # step only drops context/profile/authority when contexts are in use.
    write_json(tmp_path / "config" / "defaults.json", {"profile": "p"})
    notes = Notes()
    result = load_environment(env_for(tmp_path), notify=notes)
    assert result.defaults == {"profile": "p"}
    assert notes.lines == []


def test_vintage_null_defaults_is_empty(tmp_path: Path) -> None:
    write_text(tmp_path / "config" / "defaults.json", "null")
    assert load_environment(env_for(tmp_path)).defaults == {}


@pytest.mark.parametrize(
    "text",
    ["{", "", "[1, 2]", '"x"', "{\"a\": NaN}", "{'a': 1}"],
)
def test_malformed_defaults_json_names_the_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config" / "defaults.json"
    write_text(path, text)
    with pytest.raises(ConfigError) as info:
        load_environment(env_for(tmp_path))
    assert str(path) in str(info.value)
    assert str(info.value).startswith("error parsing ")


def test_malformed_config_flag_file(tmp_path: Path) -> None:
    path = tmp_path / "cfg.json"
    write_text(path, "{nope")
    with pytest.raises(ConfigError, match=r"error parsing .*cfg\.json"):
        load_environment(env_for(tmp_path), config_file=str(path))


def test_unreadable_defaults_is_config_error(tmp_path: Path) -> None:
    (tmp_path / "config" / "defaults.json").mkdir(parents=True)
    with pytest.raises(ConfigError, match="error reading"):
        load_environment(env_for(tmp_path))


def test_context_flag_without_contexts_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_environment(env_for(tmp_path), context="prod")
    assert str(info.value) == "could not load context 'prod'"
    assert "contexts.json" in info.value.diagnostics()


# --- contexts ------------------------------------------------------------------------


def test_contexts_fixture_with_context_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    notes = Notes()
    result = load_environment(
        {"HOME": "/h", "STEPPATH": "steppath-contexts"}, context="corpus", notify=notes
    )
    assert result.context == "corpus"
    assert result.authority == "corpus-ca"
    assert result.profile == "corpus-profile"
    assert result.step_path == "steppath-contexts/authorities/corpus-ca"
    assert result.profile_path == "steppath-contexts/profiles/corpus-profile"
    assert result.default_root == "steppath-contexts/authorities/corpus-ca/certs/root_ca.crt"
    # step's quirk (spec §3.7): the --ca-config default ignores the context.
    assert result.default_ca_config == "steppath-contexts/config/ca.json"
    assert result.defaults["ca-url"] == "https://127.0.0.1:9200"
    assert result.defaults["root"] == "pki/root_ca.crt"
    assert result.config_files == (
        "steppath-contexts/authorities/corpus-ca/config/defaults.json",
        "steppath-contexts/profiles/corpus-profile/config/defaults.json",
    )
    assert notes.lines == []


def test_single_context_without_current_is_used_and_announced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The fixture has no current-context.json: step would pick 'corpus' (and save it).
    monkeypatch.chdir(FIXTURES)
    notes = Notes()
    before = sorted(os.listdir("steppath-contexts"))
    result = load_environment({"HOME": "/h", "STEPPATH": "steppath-contexts"}, notify=notes)
    assert result.context == "corpus"
    assert notes.lines == ["✔ Context: corpus"]
    assert sorted(os.listdir("steppath-contexts")) == before  # nothing persisted


def make_contexts(base: Path, names: list[str]) -> None:
    write_json(
        base / "contexts.json",
        {n: {"authority": f"auth-{n}", "profile": f"prof-{n}"} for n in names},
    )
    for n in names:
        write_json(base / "authorities" / f"auth-{n}" / "config" / "defaults.json", {"ca-url": n})


def test_unknown_context_flag(tmp_path: Path) -> None:
    make_contexts(tmp_path, ["a", "b"])
    with pytest.raises(ConfigError) as info:
        load_environment(env_for(tmp_path), context="zzz")
    assert str(info.value) == "could not load context 'zzz'"


def test_empty_context_flag_counts_as_given(tmp_path: Path) -> None:
    make_contexts(tmp_path, ["a"])
    with pytest.raises(ConfigError, match="could not load context ''"):
        load_environment(env_for(tmp_path), context="")


def test_current_context_file_is_used(tmp_path: Path) -> None:
    make_contexts(tmp_path, ["a", "b"])
    write_json(tmp_path / "current-context.json", {"context": "b"})
    result = load_environment(env_for(tmp_path))
    assert result.context == "b"
    assert result.defaults == {"ca-url": "b"}
    assert result.contexts == ("a", "b")


def test_context_flag_overrides_current(tmp_path: Path) -> None:
    make_contexts(tmp_path, ["a", "b"])
    write_json(tmp_path / "current-context.json", {"context": "b"})
    assert load_environment(env_for(tmp_path), context="a").defaults == {"ca-url": "a"}


def test_stale_current_context(tmp_path: Path) -> None:
    make_contexts(tmp_path, ["a"])
    write_json(tmp_path / "current-context.json", {"context": "gone"})
    with pytest.raises(ConfigError, match="could not load context 'gone'"):
        load_environment(env_for(tmp_path))
    # An explicit, valid --context still works.
    assert load_environment(env_for(tmp_path), context="a").context == "a"


def test_current_context_without_contexts_file(tmp_path: Path) -> None:
    write_json(tmp_path / "current-context.json", {"context": "x"})
    with pytest.raises(ConfigError, match="could not load context 'x'"):
        load_environment(env_for(tmp_path))


def test_empty_contexts_map_means_vintage(tmp_path: Path) -> None:
    write_json(tmp_path / "contexts.json", {})
    write_json(tmp_path / "config" / "defaults.json", {"k": "v"})
    result = load_environment(env_for(tmp_path))
    assert result.context is None
    assert result.defaults == {"k": "v"}


def test_several_contexts_without_chooser(tmp_path: Path) -> None:
    make_contexts(tmp_path, ["beta", "Alpha", "gamma"])
    with pytest.raises(ConfigError) as info:
        load_environment(env_for(tmp_path))
    message = str(info.value)
    assert "--context" in message
    assert "Alpha, beta, gamma" in message


def test_several_contexts_with_chooser(tmp_path: Path) -> None:
    make_contexts(tmp_path, ["beta", "Alpha", "gamma"])
    offered: list[tuple[str, ...]] = []

    def choose(names: Any) -> str:
        offered.append(tuple(names))
        return "gamma"

    notes = Notes()
    result = load_environment(env_for(tmp_path), choose_context=choose, notify=notes)
    assert offered == [("Alpha", "beta", "gamma")]
    assert result.context == "gamma"
    assert result.defaults == {"ca-url": "gamma"}
    assert not (tmp_path / "current-context.json").exists()
    assert notes.lines == []


def test_chooser_returning_unknown_name(tmp_path: Path) -> None:
    make_contexts(tmp_path, ["a", "b"])
    with pytest.raises(ConfigError, match="could not load context 'c'"):
        load_environment(env_for(tmp_path), choose_context=lambda names: "c")


def test_profile_overrides_authority_and_banned_keys(tmp_path: Path) -> None:
    write_json(tmp_path / "contexts.json", {"c": {"authority": "A", "profile": "P"}})
    write_json(
        tmp_path / "authorities" / "A" / "config" / "defaults.json",
        {"ca-url": "https://a", "root": "/a/root.crt", "context": "x", "authority": "y"},
    )
    write_json(
        tmp_path / "profiles" / "P" / "config" / "defaults.json",
        {"root": "/p/root.crt", "provisioner": "me", "profile": "z"},
    )
    notes = Notes()
    result = load_environment(env_for(tmp_path), context="c", notify=notes)
    assert dict(result.defaults) == {
        "ca-url": "https://a",
        "root": "/p/root.crt",
        "provisioner": "me",
    }
    assert notes.lines == [
        "cannot set 'context' attribute in config files",
        "cannot set 'profile' attribute in config files",
        "cannot set 'authority' attribute in config files",
    ]


def test_context_with_missing_defaults_files(tmp_path: Path) -> None:
    write_json(tmp_path / "contexts.json", {"c": {"authority": "A", "profile": "P"}})
    result = load_environment(env_for(tmp_path), context="c")
    assert result.defaults == {}
    assert result.config_files == ()


def test_context_mode_ignores_config_flag(tmp_path: Path) -> None:
    make_contexts(tmp_path, ["a"])
    other = tmp_path / "other.json"
    write_json(other, {"ca-url": "other"})
    result = load_environment(env_for(tmp_path), context="a", config_file=str(other))
    assert result.defaults == {"ca-url": "a"}


def test_malformed_profile_defaults_names_file(tmp_path: Path) -> None:
    write_json(tmp_path / "contexts.json", {"c": {"authority": "A", "profile": "P"}})
    bad = tmp_path / "profiles" / "P" / "config" / "defaults.json"
    write_text(bad, "{,}")
    with pytest.raises(ConfigError, match=f"error parsing {bad}"):
        load_environment(env_for(tmp_path), context="c")


@pytest.mark.parametrize(
    ("contexts", "expected"),
    [
        ({"c": {"profile": "p"}}, "error in context 'c': context cannot have an empty authority"
         " value; check your $STEPPATH/contexts.json file"),
        ({"c": {"authority": "", "profile": "p"}}, "empty authority value"),
        ({"c": {"authority": "a"}}, "error in context 'c': context cannot have an empty profile"
         " value; check your $STEPPATH/contexts.json file"),
        ({"c": None}, "error in context 'c': context cannot be nil"),
        ({"c": "a"}, "error unmarshaling context map"),
        ({"c": {"authority": 1, "profile": "p"}}, "error unmarshaling context map"),
        ([], "error unmarshaling context map"),
    ],
)
def test_invalid_contexts_json(tmp_path: Path, contexts: Any, expected: str) -> None:
    write_json(tmp_path / "contexts.json", contexts)
    with pytest.raises(ConfigError) as info:
        load_environment(env_for(tmp_path))
    assert expected in str(info.value)


def test_unparsable_contexts_json_names_file(tmp_path: Path) -> None:
    write_text(tmp_path / "contexts.json", "{\"a\": ")
    with pytest.raises(ConfigError) as info:
        load_environment(env_for(tmp_path))
    assert str(tmp_path / "contexts.json") in str(info.value)


@pytest.mark.parametrize("text", ["", "[", "[]", '{"context": 5}'])
def test_malformed_current_context_json(tmp_path: Path, text: str) -> None:
    make_contexts(tmp_path, ["a"])
    write_text(tmp_path / "current-context.json", text)
    with pytest.raises(ConfigError) as info:
        load_environment(env_for(tmp_path))
    assert "error unmarshaling current context" in str(info.value)
    assert str(tmp_path / "current-context.json") in str(info.value)


def test_current_context_without_name(tmp_path: Path) -> None:
    make_contexts(tmp_path, ["a"])
    write_json(tmp_path / "current-context.json", {})
    with pytest.raises(ConfigError, match="could not load context ''"):
        load_environment(env_for(tmp_path))


def test_copy_of_contexts_fixture_with_current(tmp_path: Path) -> None:
    base = tmp_path / "sp"
    shutil.copytree(FIXTURES / "steppath-contexts", base)
    write_json(base / "current-context.json", {"context": "corpus"})
    notes = Notes()
    result = load_environment(env_for(base), notify=notes)
    assert result.context == "corpus"
    assert result.step_path == str(base / "authorities" / "corpus-ca")
    assert notes.lines == []


# --- --ca-url ----------------------------------------------------------------------

# Rows (input, expected result, expected error) produced by running step's parseCaURL
# algorithm (smallstep/cli flags/flags.go) under the local Go 1.19.8 toolchain,
# with allow_empty (i.e. --offline) semantics for "".
GO_CA_URL_TABLE = [
    ('ca.example.com', 'https://ca.example.com', ''),
    ('ca.example.com:9000/foo', 'https://ca.example.com:9000', ''),
    ('::1', 'https://[::1]', ''),
    ('2001:db8::1', 'https://[2001:db8::1]', ''),
    ('2001:db8::1:8443', 'https://[2001:db8::1]:8443', ''),
    ('https://user@ca:443?x=1#f', 'https://ca:443', ''),
    ('https://ca.example.com', 'https://ca.example.com', ''),
    ('HTTPS://ca.example.com', 'https://ca.example.com', ''),
    ('HtTpS://CA.Example.com:9000', 'https://CA.Example.com:9000', ''),
    ('http://ca.example.com', '', "invalid value 'http://ca.example.com' for flag '--ca-url'; must have https scheme"),
    ('ftp://x', '', "invalid value 'ftp://x' for flag '--ca-url'; must have https scheme"),
    ('', 'https://', ''),
    ('127.0.0.1:9200', 'https://127.0.0.1:9200', ''),
    ('https://127.0.0.1:9200', 'https://127.0.0.1:9200', ''),
    ('https://127.0.0.1:9200/1.0/sign', 'https://127.0.0.1:9200', ''),
    ('[::1]:8443', 'https://[::1]:8443', ''),
    ('https://[::1]:8443', 'https://[::1]:8443', ''),
    ('https://[::1]', 'https://[::1]', ''),
    ('[2001:db8::1]', 'https://[2001:db8::1]', ''),
    ('fe80::1%eth0', '', "invalid value 'https://fe80::1%eth0' for flag '--ca-url'; invalid URL"),
    ('https://[fe80::1%25eth0]:443', 'https://fe80::1%eth0', ''),
    ('ca.example.com:abc', '', "invalid value 'https://ca.example.com:abc' for flag '--ca-url'; invalid URL"),
    ('https://ca.example.com:abc', '', "invalid value 'https://ca.example.com:abc' for flag '--ca-url'; invalid URL"),
    ('ca.example.com:', 'https://ca.example.com:', ''),
    ('https://ca example.com', '', "invalid value 'https://ca example.com' for flag '--ca-url'; invalid URL"),
    ('https://ca%20example.com', '', "invalid value 'https://ca%20example.com' for flag '--ca-url'; invalid URL"),
    ('https://ca%C3%A9.example.com', 'https://caé.example.com', ''),
    ('https://[::1', '', "invalid value 'https://[::1' for flag '--ca-url'; invalid URL"),
    ('https://[::1]x', '', "invalid value 'https://[::1]x' for flag '--ca-url'; invalid URL"),
    ('ca.example.com\x01', '', "invalid value 'https://ca.example.com\x01' for flag '--ca-url'; invalid URL"),
    ('://x', '', "invalid value '://x' for flag '--ca-url'; invalid URL"),
    ('https:x', '', "invalid value 'https://https:x' for flag '--ca-url'; invalid URL"),
    ('https:///path', 'https://', ''),
    ('https://user:pa ss@ca', '', "invalid value 'https://user:pa ss@ca' for flag '--ca-url'; invalid URL"),
    ('https://us%zzer@ca', '', "invalid value 'https://us%zzer@ca' for flag '--ca-url'; invalid URL"),
    ('ca.example.com/%zz', '', "invalid value 'https://ca.example.com/%zz' for flag '--ca-url'; invalid URL"),
    ('ca.example.com#%zz', '', "invalid value 'https://ca.example.com#%zz' for flag '--ca-url'; invalid URL"),
    ('ca.example.com?%zz', 'https://ca.example.com', ''),
    ('1:2:3:4:5:6:7:8', 'https://[1:2:3:4:5:6:7:8]', ''),
    ('1:2:3:4:5:6:7:8:443', 'https://[1:2:3:4:5:6:7:8]:443', ''),
    ('::ffff:10.0.0.1', '', "invalid value 'https://::ffff:10.0.0.1' for flag '--ca-url'; invalid URL"),
    ('::ffff:10.0.0.1:443', 'https://[::ffff:10.0.0.1]:443', ''),
    ('ca:1:2', 'https://ca:1', ''),
    ('ca.example.com:443:443', 'https://ca.example.com:443', ''),
    ('https://ca.example.com:9000/', 'https://ca.example.com:9000', ''),
    ('unix://socket', '', "invalid value 'unix://socket' for flag '--ca-url'; must have https scheme"),
    ('https://ca.example.com?', 'https://ca.example.com', ''),
    ('https://ca.example.com:0', 'https://ca.example.com:0', ''),
    ('https://ca.example.com:65536', 'https://ca.example.com:65536', ''),
    ('https://ca.example.com:99999999', 'https://ca.example.com:99999999', ''),
    ('https://xn--caf-dma.example', 'https://xn--caf-dma.example', ''),
    ('https://café.example', 'https://café.example', ''),
    ('HTTP://ca', '', "invalid value 'HTTP://ca' for flag '--ca-url'; must have https scheme"),
    ('https://%41.example', '', "invalid value 'https://%41.example' for flag '--ca-url'; invalid URL"),
    ('https://[::1]:', 'https://[::1]', ''),
    ('https://ca.example.com#frag', 'https://ca.example.com', ''),
    ('a/b://c', '', "invalid value 'a/b://c' for flag '--ca-url'; must have https scheme"),
    ('https://@ca', 'https://ca', ''),
    ('https://ca{x}', '', "invalid value 'https://ca{x}' for flag '--ca-url'; invalid URL"),
    ('https://ca|x', '', "invalid value 'https://ca|x' for flag '--ca-url'; invalid URL"),
    ('https://ca_x.example', 'https://ca_x.example', ''),
]


@pytest.mark.parametrize(("value", "expected", "error"), GO_CA_URL_TABLE)
def test_normalize_ca_url_matches_go(value: str, expected: str, error: str) -> None:
    if error:
        with pytest.raises(UsageError) as info:
            normalize_ca_url(value, allow_empty=True)
        assert str(info.value) == error
    else:
        assert normalize_ca_url(value, allow_empty=True) == expected


def test_normalize_ca_url_spec_examples() -> None:
    # client spec §5.1, literally.
    assert normalize_ca_url("ca.example.com") == "https://ca.example.com"
    assert normalize_ca_url("ca.example.com:9000/foo") == "https://ca.example.com:9000"
    assert normalize_ca_url("::1") == "https://[::1]"
    assert normalize_ca_url("2001:db8::1") == "https://[2001:db8::1]"
    assert normalize_ca_url("2001:db8::1:8443") == "https://[2001:db8::1]:8443"
    assert normalize_ca_url("https://user@ca:443?x=1#f") == "https://ca:443"
    assert normalize_ca_url("", allow_empty=True) == "https://"


def test_normalize_ca_url_errors() -> None:
    with pytest.raises(UsageError) as info:
        normalize_ca_url("http://ca.example.com")
    assert str(info.value) == (
        "invalid value 'http://ca.example.com' for flag '--ca-url'; must have https scheme"
    )
    with pytest.raises(UsageError) as info:
        normalize_ca_url("ca.example.com:abc")
    assert str(info.value) == (
        "invalid value 'https://ca.example.com:abc' for flag '--ca-url'; invalid URL"
    )
    with pytest.raises(UsageError) as info:
        normalize_ca_url("")
    assert str(info.value) == "'step ca token' requires the '--ca-url' flag"
    with pytest.raises(UsageError, match="'pystep ca token' requires"):
        normalize_ca_url("", command="pystep ca token")
    assert issubclass(UsageError, PystepError)


def test_hostile_defaults_json_is_a_config_error(tmp_path: Path) -> None:
    from pystep.config import MAX_CONFIG_BYTES, load_environment

    (tmp_path / "config").mkdir()
    cfg = tmp_path / "config" / "defaults.json"
    cfg.write_text("[" * 100_000)
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_environment({"STEPPATH": str(tmp_path), "HOME": str(tmp_path)})
    cfg.write_text("{}" + " " * MAX_CONFIG_BYTES)
    with pytest.raises(ConfigError, match="file too large"):
        load_environment({"STEPPATH": str(tmp_path), "HOME": str(tmp_path)})
