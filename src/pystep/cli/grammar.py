"""The command-line grammar of step: urfave/cli v1 on top of Go's ``flag`` package.

Two phases, because the configuration a command reads depends on one of its flags
(``--context``):

1. :func:`parse_args` reads argv only and returns :class:`RawArgs`.
2. :func:`resolve` merges, per flag, command line > ``STEP_*`` environment >
   configuration (defaults.json) > built-in default, and returns :class:`ParsedArgs`.
   It is pure and cheap, so a command may call it twice: once with an empty config to
   learn ``--context``/``STEP_CONTEXT``, once with the loaded config.

What users of step can type, and how we read it:

* Flags may come before or after positionals (urfave reorders arguments).
* ``--name value``, ``--name=value``, ``-name value`` and ``-name=value`` are the same.
* A string or list flag takes the next word as its value even when it starts with
  ``-`` (Go ``flag``): ``--not-before -5m`` works.
* Bool flags accept ``--b`` and ``--b=<ParseBool>``; unlike step, a bool flag never
  swallows the next word, so ``--revoke 1461033496 --provisioner admin`` has the
  positional ``1461033496`` (step would stop parsing flags there).
* ``--`` ends the flags; a lone ``-`` is a positional; there is no bundling of short flags.
* Repeating a list flag accumulates; repeating a string or bool flag keeps the last value.
* Using two different names of one string or bool flag (``--provisioner a --issuer b``)
  is an error, as in urfave: ``Cannot use two forms of the same flag``. Unlike urfave,
  the names of a list flag accumulate (``-n alice --principal bob`` gives both).
* ``-h``/``--help`` (also ``-help``, ``--h``) stops parsing and asks for help.

Deliberate differences from step, all in the direction of clearer behaviour:

* An undefined flag after a positional is an error (step turns it into a positional).
* Empty items of a comma-separated list env var are dropped (step keeps ``""``).
* A JSON list in the configuration is accepted for a list flag, one item per value
  (step would format it with Go ``%v`` as the single string ``[a b]``); a list or
  object for a string or bool flag, or an invalid bool, is a :class:`ConfigError`
  (step silently ignores a config value its flag cannot parse). JSON ``null`` counts
  as absent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from pystep.errors import ConfigError, UsageError

FlagKind = Literal["bool", "string", "list"]
FlagValue = str | bool | tuple[str, ...]
Source = Literal["flag", "env", "config", "default"]

HELP_NAMES = ("help", "h")

_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def parse_go_bool(text: str) -> bool:
    """Go ``strconv.ParseBool``; raises ValueError for anything else (including "")."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(text)


class _FlagSpecFields(NamedTuple):
    names: tuple[str, ...]
    kind: FlagKind = "string"
    default: FlagValue | None = None
    help: str = ""
    placeholder: str = ""
    hidden: bool = False
    env: str | None = None
    from_config: bool = True


class FlagSpec(_FlagSpecFields):
    """One flag of a command (immutable; the names and the kind are checked on creation).

    ``names[0]`` is canonical: values are stored under it and the environment variable is
    ``STEP_<NAMES[0] upper-cased, '-' -> '_'>`` (so ``("f", "force")`` reads ``STEP_F``
    and ``("principal", "n")`` reads ``STEP_PRINCIPAL``, as in step). ``env=""`` turns
    the environment lookup off; ``from_config=False`` ignores defaults.json for the flag.
    ``placeholder`` is the word shown in help (``--ca-url=<uri>``).
    """

    __slots__ = ()

    def __new__(
        cls,
        names: tuple[str, ...],
        kind: FlagKind = "string",
        default: FlagValue | None = None,
        help: str = "",
        placeholder: str = "",
        hidden: bool = False,
        env: str | None = None,
        from_config: bool = True,
    ) -> FlagSpec:
        if not names:
            raise ValueError("a flag needs at least one name")
        for name in names:
            if not name or name.startswith("-") or "=" in name or name in HELP_NAMES:
                raise ValueError(f"invalid flag name {name!r}")
        if kind not in ("bool", "string", "list"):
            raise ValueError(f"invalid flag kind {kind!r}")
        return super().__new__(
            cls, names, kind, default, help, placeholder, hidden, env, from_config
        )

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def env_var(self) -> str:
        if self.env is not None:
            return self.env
        return "STEP_" + self.names[0].upper().replace("-", "_")

    @property
    def default_value(self) -> FlagValue:
        if self.kind == "bool":
            return bool(self.default) if self.default is not None else False
        if self.kind == "list":
            if self.default is None:
                return ()
            if isinstance(self.default, tuple):
                return self.default
            return (str(self.default),)
        return "" if self.default is None else str(self.default)

    def display(self, name: str | None = None) -> str:
        """``--name`` as step prints flags in its messages."""
        return "--" + (name or self.names[0])


class _Specs:
    """Name → spec index, with checks that names are unique."""

    def __init__(self, specs: Iterable[FlagSpec]) -> None:
        self.specs: tuple[FlagSpec, ...] = tuple(specs)
        self.by_name: dict[str, FlagSpec] = {}
        for spec in self.specs:
            for name in spec.names:
                if name in self.by_name:
                    raise ValueError(f"flag name {name!r} defined twice")
                self.by_name[name] = spec


class RawArgs(NamedTuple):
    """What the command line alone said.

    ``values`` maps canonical names to the value from argv; ``names_used`` maps
    canonical names to the name the user typed (for messages).
    """

    positionals: tuple[str, ...]
    values: Mapping[str, FlagValue]
    names_used: Mapping[str, str]
    help: bool = False


def _fail(message: str) -> UsageError:
    return UsageError(message)


def parse_args(argv: Sequence[str], specs: Iterable[FlagSpec]) -> RawArgs:
    """Parse argv (without the program and command names) against ``specs``.

    Raises :class:`UsageError` with Go ``flag``'s wording:
    ``flag provided but not defined: -name``, ``flag needs an argument: -name``,
    ``invalid boolean value "x" for -name: parse error``, ``bad flag syntax: ---x``.
    """
    index = _Specs(specs)
    positionals: list[str] = []
    values: dict[str, FlagValue] = {}
    lists: dict[str, list[str]] = {}
    used: dict[str, str] = {}
    forms: dict[str, set[str]] = {}
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            positionals.extend(args[i:])
            break
        if len(arg) < 2 or arg[0] != "-":
            positionals.append(arg)
            continue
        body = arg[2:] if arg[1] == "-" else arg[1:]
        if not body or body[0] in "-=":
            raise _fail(f"bad flag syntax: {arg}")
        name, has_value, value = body.partition("=")
        if name in HELP_NAMES:
            wants_help = True
            if has_value:
                try:
                    wants_help = parse_go_bool(value)
                except ValueError:
                    raise _fail(
                        f'invalid boolean value "{_go_quote(value)}" for -{name}: parse error'
                    ) from None
            if wants_help:
                return RawArgs(
                    tuple(positionals),
                    MappingProxyType(_freeze(values, lists)),
                    MappingProxyType(dict(used)),
                    True,
                )
            continue
        spec = index.by_name.get(name)
        if spec is None:
            raise _fail(f"flag provided but not defined: -{name}")
        canonical = spec.name
        used[canonical] = name
        forms.setdefault(canonical, set()).add(name)
        if spec.kind == "bool":
            if has_value:
                try:
                    values[canonical] = parse_go_bool(value)
                except ValueError:
                    raise _fail(
                        f'invalid boolean value "{_go_quote(value)}" for -{name}: parse error'
                    ) from None
            else:
                values[canonical] = True
            continue
        if not has_value:
            if i >= len(args):
                raise _fail(f"flag needs an argument: -{name}")
            value = args[i]
            i += 1
        if spec.kind == "list":
            lists.setdefault(canonical, []).append(value)
        else:
            values[canonical] = value
    _check_single_form(index, forms)
    return RawArgs(
        tuple(positionals),
        MappingProxyType(_freeze(values, lists)),
        MappingProxyType(dict(used)),
        False,
    )


def _check_single_form(index: _Specs, forms: Mapping[str, set[str]]) -> None:
    """urfave's check, made after parsing: one flag, one of its names."""
    for spec in index.specs:
        if spec.kind == "list":
            continue  # -n a --principal b: both principals, not an error
        typed = [name for name in spec.names if name in forms.get(spec.name, ())]
        if len(typed) > 1:
            # urfave names the second declared name first, then the first one.
            raise _fail(f"Cannot use two forms of the same flag: {typed[1]} {typed[0]}")


def _freeze(values: dict[str, FlagValue], lists: dict[str, list[str]]) -> dict[str, FlagValue]:
    out = dict(values)
    for name, items in lists.items():
        out[name] = tuple(items)
    return out


def _go_quote(text: str) -> str:
    """The inside of Go's %q for printable text (enough for error messages)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


class ParsedArgs(NamedTuple):
    """Every flag's final value and where it came from.

    Accessors take any name of a flag (``issuer`` finds ``provisioner``).
    """

    positionals: tuple[str, ...]
    help: bool
    values: Mapping[str, FlagValue]
    sources: Mapping[str, Source]
    names_used: Mapping[str, str] = MappingProxyType({})
    aliases: Mapping[str, str] = MappingProxyType({})

    def _canonical(self, name: str) -> str:
        canonical = self.aliases.get(name, name)
        if canonical not in self.values:
            raise KeyError(f"unknown flag {name!r}")
        return canonical

    def value(self, name: str) -> FlagValue:
        return self.values[self._canonical(name)]

    def string(self, name: str) -> str:
        value = self.value(name)
        if not isinstance(value, str):
            raise TypeError(f"flag {name!r} is not a string flag")
        return value

    def string_if_set(self, name: str) -> str | None:
        """The string value when set (flag, env or config; ``""`` included), else None.

        E.g. ``load_environment(env, context=parsed.string_if_set("context"))``.
        """
        return self.string(name) if self.is_set(name) else None

    def flag(self, name: str) -> bool:
        """The value of a bool flag."""
        value = self.value(name)
        if not isinstance(value, bool):
            raise TypeError(f"flag {name!r} is not a bool flag")
        return value

    def strings(self, name: str) -> tuple[str, ...]:
        """The value of a list flag."""
        value = self.value(name)
        if not isinstance(value, tuple):
            raise TypeError(f"flag {name!r} is not a list flag")
        return value

    def source(self, name: str) -> Source:
        return self.sources[self._canonical(name)]

    def is_set(self, name: str) -> bool:
        """True when the command line, the environment or the config gave a value."""
        return self.source(name) != "default"

    def name_used(self, name: str) -> str:
        """The name typed on the command line, else the canonical name."""
        canonical = self._canonical(name)
        return self.names_used.get(canonical, canonical)


def resolve(
    raw: RawArgs,
    specs: Iterable[FlagSpec],
    env: Mapping[str, str],
    config: Mapping[str, Any] | None = None,
) -> ParsedArgs:
    """Apply step's precedence: command line > ``STEP_*`` env > config > default.

    * An env var that is present, even empty, sets the flag. List flags split it on
      ``,`` and trim items (empty items dropped); bool flags parse it with Go
      ``ParseBool`` (empty means false; invalid is a :class:`UsageError` in urfave's
      wording).
    * Config: for each name of the flag in order, the first key present in ``config``
      is used. Strings are used as given, numbers and bools formatted like Go ``%v``.
    """
    index = _Specs(specs)
    values: dict[str, FlagValue] = {}
    sources: dict[str, Source] = {}
    aliases: dict[str, str] = {}
    config = config or {}
    for spec in index.specs:
        canonical = spec.name
        for name in spec.names:
            aliases[name] = canonical
        if canonical in raw.values:
            values[canonical] = raw.values[canonical]
            sources[canonical] = "flag"
            continue
        env_var = spec.env_var
        if env_var and env_var in env:
            values[canonical] = _from_env(spec, env[env_var])
            sources[canonical] = "env"
            continue
        from_config = _from_config(spec, config) if spec.from_config else None
        if from_config is not None:
            values[canonical] = from_config
            sources[canonical] = "config"
            continue
        values[canonical] = spec.default_value
        sources[canonical] = "default"
    return ParsedArgs(
        positionals=raw.positionals,
        help=raw.help,
        values=MappingProxyType(values),
        sources=MappingProxyType(sources),
        names_used=MappingProxyType(dict(raw.names_used)),
        aliases=MappingProxyType(aliases),
    )


def _from_env(spec: FlagSpec, text: str) -> FlagValue:
    if spec.kind == "list":
        return tuple(item.strip() for item in text.split(",") if item.strip())
    if spec.kind == "bool":
        if text == "":
            return False
        try:
            return parse_go_bool(text)
        except ValueError:
            raise UsageError(
                f'could not parse "{_go_quote(text)}" as bool value for flag '
                f'{",".join(spec.names)}: strconv.ParseBool: parsing "{_go_quote(text)}": '
                "invalid syntax"
            ) from None
    return text


def _from_config(spec: FlagSpec, config: Mapping[str, Any]) -> FlagValue | None:
    for name in spec.names:
        if name not in config or config[name] is None:
            continue
        raw = config[name]
        if spec.kind == "list" and isinstance(raw, list):
            return tuple(_config_scalar(spec, name, item) for item in raw if item is not None)
        text = _config_scalar(spec, name, raw)
        if spec.kind == "list":
            return (text,)
        if spec.kind == "bool":
            try:
                return parse_go_bool(text)
            except ValueError:
                raise ConfigError(
                    f"invalid value '{text}' for '{name}' in the configuration; "
                    "expected true or false"
                ) from None
        return text
    return None


def _config_scalar(spec: FlagSpec, name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        try:
            return go_format_float(float(value))
        except OverflowError:
            raise ConfigError(f"invalid value for '{name}' in the configuration") from None
    if isinstance(value, float):
        return go_format_float(value)
    kind = "a list" if isinstance(value, list) else "an object"
    raise ConfigError(
        f"invalid value for '{name}' in the configuration: "
        f"flag '--{spec.name}' cannot take {kind}"
    )


def go_format_float(value: float) -> str:
    """Go's ``%v`` for a float64 (what a JSON number in defaults.json becomes).

    Shortest round-trip digits (Python's repr and Go agree on them); exponent form when
    the decimal exponent is below -4 or at least 6, e.g. ``1e+06``, ``1.5e-05``.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    from decimal import Decimal

    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    exp = len(digits) + exponent - 1  # decimal exponent of the first digit
    prefix = "-" if sign else ""
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mant}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    point = exp + 1
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{prefix}{digits}{'0' * (point - len(digits))}"
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def render_help(
    command_name: str,
    usage: str,
    description: str,
    specs: Iterable[FlagSpec],
    examples: Sequence[tuple[str, str]] = (),
    *,
    summary: str = "",
) -> str:
    """step-shaped help text; see :mod:`pystep.cli.helptext` (imported on demand)."""
    from pystep.cli.helptext import render_help as _render

    return _render(command_name, usage, description, specs, examples, summary=summary)
