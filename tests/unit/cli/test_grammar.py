"""Tests of pystep.cli.grammar: urfave/cli v1 + Go flag grammar and STEP_* precedence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pystep.cli.grammar import (
    FlagSpec,
    ParsedArgs,
    RawArgs,
    go_format_float,
    parse_args,
    parse_go_bool,
    render_help,
    resolve,
)
from pystep.config import load_environment
from pystep.errors import ConfigError, UsageError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "step-v0.19"

# A subset of `step ca token`'s flags, with step's names and kinds.
SPECS = (
    FlagSpec(("kid",), placeholder="kid", help="The provisioner <kid> to use."),
    FlagSpec(("san",), kind="list", placeholder="dns|ip|email|uri"),
    FlagSpec(("principal", "n"), kind="list", placeholder="principal"),
    FlagSpec(("host",), kind="bool"),
    FlagSpec(("f", "force"), kind="bool", help="Force the overwrite of files."),
    FlagSpec(("not-before",), placeholder="time|duration"),
    FlagSpec(("provisioner", "issuer"), placeholder="name"),
    FlagSpec(("password-file",), placeholder="file"),
    FlagSpec(("key",), placeholder="file"),
    FlagSpec(("revoke",), kind="bool"),
    FlagSpec(("ssh",), kind="bool"),
    FlagSpec(("offline",), kind="bool"),
    FlagSpec(
        ("ca-url",), placeholder="uri", help="<URI> of the targeted Step Certificate Authority."
    ),
    FlagSpec(("root",), placeholder="file"),
    FlagSpec(("context",), placeholder="name"),
    FlagSpec(
        ("k8ssa-token-path",),
        default="/var/run/secrets/kubernetes.io/serviceaccount/token",
        placeholder="file",
    ),
    FlagSpec(("secret",), hidden=True),
)


def parse(*argv: str) -> RawArgs:
    return parse_args(list(argv), SPECS)


def full(argv: list[str], env: dict[str, str] | None = None, config: Any = None) -> ParsedArgs:
    return resolve(parse_args(argv, SPECS), SPECS, env or {}, config)


# --- parse_args: positionals and ordering ------------------------------------------


def test_seed_case_bool_does_not_swallow_the_next_word() -> None:
    raw = parse("--revoke", "1461033496", "--provisioner", "admin")
    assert raw.positionals == ("1461033496",)
    assert raw.values == {"revoke": True, "provisioner": "admin"}


def test_flags_after_positionals() -> None:
    raw = parse("host.example.com", "--key", "k.json", "--san", "a", "other")
    assert raw.positionals == ("host.example.com", "other")
    assert raw.values == {"key": "k.json", "san": ("a",)}


def test_all_value_forms_are_equivalent() -> None:
    for argv in (
        ["--kid", "x"],
        ["--kid=x"],
        ["-kid", "x"],
        ["-kid=x"],
    ):
        assert parse(*argv).values == {"kid": "x"}, argv


def test_value_with_equals_inside() -> None:
    assert parse("--kid=a=b").values == {"kid": "a=b"}
    assert parse("--kid", "a=b").values == {"kid": "a=b"}


def test_empty_value_after_equals() -> None:
    assert parse("--kid=").values == {"kid": ""}


def test_string_flag_takes_next_word_even_if_dashed() -> None:
    raw = parse("--not-before", "-5m", "sub")
    assert raw.values == {"not-before": "-5m"}
    assert raw.positionals == ("sub",)
    assert parse("--key", "--offline").values == {"key": "--offline"}


def test_repeated_list_flags_accumulate() -> None:
    raw = parse("--san=a.example.com", "x", "--san", "10.0.0.1", "-san", "c", "-san=d")
    assert raw.values["san"] == ("a.example.com", "10.0.0.1", "c", "d")
    assert raw.positionals == ("x",)


def test_list_flag_short_alias() -> None:
    raw = parse("-n", "alice", "-n=bob")
    assert raw.values == {"principal": ("alice", "bob")}
    assert raw.names_used == {"principal": "n"}


def test_repeated_string_flag_last_wins() -> None:
    assert parse("--kid", "a", "--kid", "b").values == {"kid": "b"}


def test_alias_is_stored_under_canonical_name() -> None:
    raw = parse("--issuer", "admin")
    assert raw.values == {"provisioner": "admin"}
    assert raw.names_used == {"provisioner": "issuer"}


def test_two_forms_of_the_same_flag() -> None:
    with pytest.raises(UsageError) as info:
        parse("--provisioner", "a", "--issuer", "b")
    assert str(info.value) == "Cannot use two forms of the same flag: issuer provisioner"
    with pytest.raises(UsageError) as info:
        parse("--issuer", "a", "--provisioner", "b")
    assert str(info.value) == "Cannot use two forms of the same flag: issuer provisioner"
    # A list flag's names accumulate (urfave refuses this; nothing is ambiguous).
    assert parse("-n", "alice", "--principal=bob").values["principal"] == ("alice", "bob")
    with pytest.raises(UsageError, match="two forms"):
        parse("-f", "--force")


def test_parse_errors_come_before_the_two_forms_check() -> None:
    with pytest.raises(UsageError, match="flag provided but not defined: -bogus"):
        parse("--provisioner", "a", "--issuer", "b", "--bogus")


def test_double_dash_ends_flags() -> None:
    raw = parse("--ssh", "--", "--revoke", "-x", "--")
    assert raw.values == {"ssh": True}
    assert raw.positionals == ("--revoke", "-x", "--")


def test_double_dash_as_a_value_is_a_value() -> None:
    raw = parse("--kid", "--", "sub")
    assert raw.values == {"kid": "--"}
    assert raw.positionals == ("sub",)


def test_lone_dash_is_a_positional() -> None:
    raw = parse("-", "--ssh")
    assert raw.positionals == ("-",)
    assert raw.values == {"ssh": True}


def test_no_short_flag_bundling() -> None:
    # -fn is the (undefined) flag "fn", not -f -n.
    with pytest.raises(UsageError) as info:
        parse("-fn", "x")
    assert str(info.value) == "flag provided but not defined: -fn"


def test_single_letter_flag_with_double_dash() -> None:
    assert parse("--f").values == {"f": True}
    assert parse("--n", "x").values == {"principal": ("x",)}


# --- bools --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True), ("TRUE", True), ("True", True), ("t", True), ("T", True), ("1", True),
        ("false", False), ("FALSE", False), ("False", False), ("f", False), ("F", False),
        ("0", False),
    ],
)
def test_bool_with_value(text: str, expected: bool) -> None:
    assert parse(f"--revoke={text}").values == {"revoke": expected}
    assert parse(f"-force={text}").values == {"f": expected}
    assert parse_go_bool(text) is expected


@pytest.mark.parametrize("text", ["yes", "no", "", "tRuE", "2", " true", "on"])
def test_invalid_bool_value(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(f"--revoke={text}")
    assert str(info.value) == f'invalid boolean value "{text}" for -revoke: parse error'
    with pytest.raises(ValueError):
        parse_go_bool(text)


def test_bool_error_uses_the_typed_name() -> None:
    with pytest.raises(UsageError) as info:
        parse("-force=maybe")
    assert str(info.value) == 'invalid boolean value "maybe" for -force: parse error'


def test_bool_false_then_true() -> None:
    assert parse("--ssh=false", "--ssh").values == {"ssh": True}
    assert parse("--ssh", "--ssh=0").values == {"ssh": False}


# --- errors -------------------------------------------------------------------------


def test_undefined_flag() -> None:
    with pytest.raises(UsageError) as info:
        parse("sub", "--x5c-chian", "c.pem")
    assert str(info.value) == "flag provided but not defined: -x5c-chian"
    with pytest.raises(UsageError) as info:
        parse("-console")
    assert str(info.value) == "flag provided but not defined: -console"
    with pytest.raises(UsageError) as info:
        parse("--console=true")
    assert str(info.value) == "flag provided but not defined: -console"


def test_flag_needs_an_argument() -> None:
    with pytest.raises(UsageError) as info:
        parse("sub", "--key")
    assert str(info.value) == "flag needs an argument: -key"
    with pytest.raises(UsageError) as info:
        parse("-n")
    assert str(info.value) == "flag needs an argument: -n"


@pytest.mark.parametrize("arg", ["---kid", "-=x", "--=x", "---"])
def test_bad_flag_syntax(arg: str) -> None:
    with pytest.raises(UsageError) as info:
        parse(arg)
    assert str(info.value) == f"bad flag syntax: {arg}"


# --- help ---------------------------------------------------------------------------


@pytest.mark.parametrize("arg", ["-h", "--help", "-help", "--h", "--help=true", "-h=1"])
def test_help_flags(arg: str) -> None:
    raw = parse("sub", arg, "--bogus")
    assert raw.help
    assert raw.positionals == ("sub",)


def test_help_false_is_not_help() -> None:
    assert not parse("--help=false").help
    with pytest.raises(UsageError, match='invalid boolean value "x" for -help'):
        parse("--help=x")


def test_help_after_double_dash_is_positional() -> None:
    raw = parse("--", "--help")
    assert not raw.help
    assert raw.positionals == ("--help",)


def test_help_propagates_to_parsed_args() -> None:
    assert full(["-h"]).help
    assert not full([]).help


# --- FlagSpec ------------------------------------------------------------------------


def test_env_var_names_use_the_first_name() -> None:
    by_name = {spec.name: spec for spec in SPECS}
    assert by_name["ca-url"].env_var == "STEP_CA_URL"
    assert by_name["provisioner"].env_var == "STEP_PROVISIONER"
    assert by_name["f"].env_var == "STEP_F"
    assert by_name["principal"].env_var == "STEP_PRINCIPAL"
    assert by_name["k8ssa-token-path"].env_var == "STEP_K8SSA_TOKEN_PATH"
    assert FlagSpec(("x",), env="OTHER").env_var == "OTHER"


@pytest.mark.parametrize("names", [(), ("",), ("-x",), ("a=b",), ("help",), ("h",)])
def test_invalid_specs(names: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        FlagSpec(names)


def test_duplicate_names_rejected() -> None:
    with pytest.raises(ValueError):
        parse_args([], [FlagSpec(("a", "b")), FlagSpec(("b",))])


# --- resolve: precedence ------------------------------------------------------------


def test_defaults() -> None:
    parsed = full([])
    assert parsed.string("kid") == ""
    assert parsed.flag("revoke") is False
    assert parsed.strings("san") == ()
    assert parsed.string("k8ssa-token-path") == (
        "/var/run/secrets/kubernetes.io/serviceaccount/token"
    )
    assert parsed.source("k8ssa-token-path") == "default"
    assert not parsed.is_set("k8ssa-token-path")
    assert not parsed.is_set("revoke")


def test_flag_beats_env_beats_config_beats_default() -> None:
    env = {"STEP_CA_URL": "https://env", "STEP_ROOT": "env.crt"}
    config = {"ca-url": "https://config", "root": "config.crt", "kid": "config-kid"}
    parsed = full(["--ca-url", "https://flag"], env, config)
    assert parsed.string("ca-url") == "https://flag"
    assert parsed.source("ca-url") == "flag"
    assert parsed.string("root") == "env.crt"
    assert parsed.source("root") == "env"
    assert parsed.string("kid") == "config-kid"
    assert parsed.source("kid") == "config"
    assert parsed.string("key") == ""
    assert parsed.source("key") == "default"
    for name in ("ca-url", "root", "kid"):
        assert parsed.is_set(name)


def test_empty_env_counts_as_set() -> None:
    parsed = full([], {"STEP_K8SSA_TOKEN_PATH": ""}, {"k8ssa-token-path": "/cfg"})
    assert parsed.is_set("k8ssa-token-path")
    assert parsed.source("k8ssa-token-path") == "env"
    assert parsed.string("k8ssa-token-path") == ""


def test_env_uses_first_name_only() -> None:
    parsed = full([], {"STEP_ISSUER": "nope", "STEP_N": "nope", "STEP_FORCE": "true"})
    assert not parsed.is_set("provisioner")
    assert not parsed.is_set("principal")
    assert not parsed.is_set("force")
    parsed = full([], {"STEP_PROVISIONER": "p", "STEP_PRINCIPAL": "a", "STEP_F": "1"})
    assert parsed.string("issuer") == "p"
    assert parsed.strings("n") == ("a",)
    assert parsed.flag("force") is True


def test_env_list_split_and_trimmed() -> None:
    parsed = full([], {"STEP_SAN": " a.example.com, 10.0.0.1 ,,c "})
    assert parsed.strings("san") == ("a.example.com", "10.0.0.1", "c")
    assert parsed.source("san") == "env"


def test_command_line_list_replaces_env_list() -> None:
    parsed = full(["--san", "x"], {"STEP_SAN": "a,b"})
    assert parsed.strings("san") == ("x",)
    assert parsed.source("san") == "flag"


@pytest.mark.parametrize(
    ("text", "expected"), [("", False), ("true", True), ("1", True), ("F", False)]
)
def test_env_bool(text: str, expected: bool) -> None:
    parsed = full([], {"STEP_OFFLINE": text})
    assert parsed.flag("offline") is expected
    assert parsed.is_set("offline")


def test_env_bool_invalid() -> None:
    with pytest.raises(UsageError) as info:
        full([], {"STEP_F": "yes"})
    assert str(info.value) == (
        'could not parse "yes" as bool value for flag f,force: '
        'strconv.ParseBool: parsing "yes": invalid syntax'
    )


def test_command_line_bool_beats_env() -> None:
    parsed = full(["--offline=false"], {"STEP_OFFLINE": "true"})
    assert parsed.flag("offline") is False
    assert parsed.source("offline") == "flag"
    assert parsed.is_set("offline")


def test_config_uses_every_name_in_order() -> None:
    assert full([], config={"issuer": "from-issuer"}).string("provisioner") == "from-issuer"
    both = full([], config={"issuer": "second", "provisioner": "first"})
    assert both.string("provisioner") == "first"
    assert full([], config={"force": True}).flag("f") is True
    assert full([], config={"n": "alice"}).strings("principal") == ("alice",)


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), ("true", True), ("0", False), (1, True)]
)
def test_config_bool(value: Any, expected: bool) -> None:
    parsed = full([], config={"offline": value})
    assert parsed.flag("offline") is expected
    assert parsed.source("offline") == "config"


def test_config_invalid_bool() -> None:
    with pytest.raises(ConfigError, match="offline"):
        full([], config={"offline": "yes"})


def test_config_scalars_formatted_like_go() -> None:
    assert full([], config={"kid": 5}).string("kid") == "5"
    assert full([], config={"kid": 1000000}).string("kid") == "1e+06"
    assert full([], config={"kid": 2.5}).string("kid") == "2.5"
    assert full([], config={"kid": True}).string("kid") == "true"


def test_config_list_for_list_flag() -> None:
    parsed = full([], config={"san": ["a", "b", 3]})
    assert parsed.strings("san") == ("a", "b", "3")
    assert full([], config={"san": "one"}).strings("san") == ("one",)


@pytest.mark.parametrize("value", [["a"], {"a": 1}])
def test_config_non_scalar_for_string_flag(value: Any) -> None:
    with pytest.raises(ConfigError, match="'kid'"):
        full([], config={"kid": value})


def test_config_null_is_absent() -> None:
    parsed = full([], config={"kid": None})
    assert not parsed.is_set("kid")


def test_unrelated_config_keys_ignored() -> None:
    parsed = full([], config={"fingerprint": "abc", "redirect-url": "x"})
    assert not any(parsed.is_set(spec.name) for spec in SPECS)


def test_env_and_config_switches() -> None:
    specs = (FlagSpec(("a",), env=""), FlagSpec(("b",), from_config=False))
    env = {"STEP_A": "x", "STEP_B": "y"}
    parsed = resolve(parse_args([], specs), specs, env, {"a": "c", "b": "d"})
    assert parsed.string("a") == "c"
    assert parsed.source("a") == "config"
    assert parsed.string("b") == "y"
    parsed = resolve(parse_args([], specs), specs, {}, {"b": "d"})
    assert not parsed.is_set("b")


def test_accessors_check_kind_and_name() -> None:
    parsed = full([])
    with pytest.raises(TypeError):
        parsed.flag("kid")
    with pytest.raises(TypeError):
        parsed.string("san")
    with pytest.raises(TypeError):
        parsed.strings("revoke")
    with pytest.raises(KeyError):
        parsed.value("nope")
    assert parsed.name_used("issuer") == "provisioner"
    assert full(["--issuer", "x"]).name_used("provisioner") == "issuer"


def test_string_if_set() -> None:
    assert full([]).string_if_set("context") is None
    assert full([], {"STEP_CONTEXT": ""}).string_if_set("context") == ""
    assert full(["--context", "c"]).string_if_set("context") == "c"


def test_positionals_pass_through() -> None:
    assert full(["a", "--ssh", "b"]).positionals == ("a", "b")


# --- two-phase use with the real fixtures -------------------------------------------


def test_two_phase_context_then_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    env = {"HOME": "/h", "STEPPATH": "steppath-contexts", "STEP_CONTEXT": "corpus"}
    raw = parse_args(["svc.example.com", "--provisioner", "admin"], SPECS)
    first = resolve(raw, SPECS, env)
    assert first.string("context") == "corpus"
    assert first.source("context") == "env"
    environment = load_environment(env, context=first.string_if_set("context"))
    parsed = resolve(raw, SPECS, env, environment.defaults)
    assert parsed.string("ca-url") == "https://127.0.0.1:9200"
    assert parsed.source("ca-url") == "config"
    assert parsed.string("root") == "pki/root_ca.crt"
    assert parsed.string("provisioner") == "admin"
    assert parsed.positionals == ("svc.example.com",)


def test_vintage_fixture_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)
    env = {"HOME": "/h", "STEPPATH": "steppath"}
    environment = load_environment(env)
    specs = (*SPECS, FlagSpec(("ca-config",), default=environment.default_ca_config))
    parsed = resolve(parse_args(["svc", "--offline"], specs), specs, env, environment.defaults)
    assert parsed.string("ca-config") == "pki/ca.json"
    assert parsed.source("ca-config") == "config"
    raw_defaults = json.loads((FIXTURES / "steppath/config/defaults.json").read_text())
    assert parsed.string("root") == raw_defaults["root"]


# --- go_format_float ----------------------------------------------------------------

# Expected strings printed by Go 1.19 `fmt.Printf("%v", float64(x))`.
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5.0, "5"), (9200.0, "9200"), (123456.0, "123456"), (1000000.0, "1e+06"),
        (1234567.0, "1.234567e+06"), (0.5, "0.5"), (0.0001, "0.0001"), (0.00001, "1e-05"),
        (1.5e-05, "1.5e-05"), (1e21, "1e+21"), (123456789.0, "1.23456789e+08"),
        (-3.25, "-3.25"), (1e100, "1e+100"), (0.1, "0.1"), (100000.0, "100000"), (0.0, "0"),
    ],
)
def test_go_format_float(value: float, expected: str) -> None:
    assert go_format_float(value) == expected


# --- help rendering -----------------------------------------------------------------


def test_render_help_sections_and_flags() -> None:
    text = render_help(
        "pystep ca token",
        "pystep ca token <subject> [--ca-url=<uri>] [--issuer=<name>]",
        "The **step ca token** command generates a one-time token granting access to the "
        "certificates authority.\n\nSecond paragraph.",
        SPECS,
        [("Get a new token for a DNS name:", "TOKEN=$(pystep ca token internal.example.com)")],
        summary="generate an OTT granting access to the CA",
    )
    lines = text.splitlines()
    for section in ("NAME", "USAGE", "DESCRIPTION", "OPTIONS", "EXAMPLES"):
        assert section in lines
    assert lines.index("NAME") < lines.index("USAGE") < lines.index("DESCRIPTION")
    assert lines.index("DESCRIPTION") < lines.index("OPTIONS") < lines.index("EXAMPLES")
    assert "      pystep ca token -- generate an OTT granting access to the CA" in lines
    assert "      --ca-url=<uri>" in lines
    assert "      --provisioner=<name>, --issuer=<name>" in lines
    assert "      --principal=<principal>, -n=<principal>" in lines
    assert "      -f, --force" in lines
    assert "      --revoke" in lines
    assert "          Force the overwrite of files." in lines
    assert "        $ TOKEN=$(pystep ca token internal.example.com)" in lines
    assert not any("secret" in line for line in lines)  # hidden flag
    assert all(len(line) <= 80 for line in lines if not line.lstrip().startswith("$"))
    assert text.endswith("\n")


def test_results_are_read_only() -> None:
    raw = parse("--kid", "x")
    with pytest.raises(TypeError):
        raw.values["kid"] = "y"  # type: ignore[index]
    parsed = full(["--kid", "x"])
    with pytest.raises(TypeError):
        parsed.values["kid"] = "y"  # type: ignore[index]
    with pytest.raises(AttributeError):
        parsed.positionals = ()  # type: ignore[misc]
