"""Where step keeps its configuration: ``$STEPPATH``, contexts and defaults.json.

:func:`load_environment` resolves, once, what cli-utils' ``step`` package computes at
start-up and before a command runs, and returns an immutable :class:`StepEnvironment`.
Nothing here creates directories or writes files, and nothing prints: notices go to the
``notify`` callback.

Layouts (``<base>`` is ``$STEPPATH``, else ``$HOME/.step``, cleaned like Go's
``filepath.Clean``; a relative STEPPATH is kept relative, i.e. relative to the CWD):

* **Contexts** are in use when ``<base>/contexts.json`` has at least one entry. The step
  path is then ``<base>/authorities/<authority>`` and the configuration is
  ``<base>/authorities/<authority>/config/defaults.json`` overlaid by
  ``<base>/profiles/<profile>/config/defaults.json`` (profile keys win, top level only).
  The keys ``context``, ``profile`` and ``authority`` are dropped with the notice
  ``cannot set '<key>' attribute in config files``.
* **Vintage**: otherwise the step path is ``<base>`` and the configuration is
  ``<base>/config/defaults.json``, or the global ``--config`` file. As in step,
  ``--config`` is ignored when contexts are in use.

Which context: the ``context`` argument (``--context``/``STEP_CONTEXT``, an empty string
counts as given), else the one named by ``current-context.json``, else — where step would
prompt and save the answer — the only context (announced as ``✔ Context: <name>``), or
the answer of ``choose_context``; otherwise a :class:`ConfigError` naming ``--context``.
The choice is never saved.

Deliberate differences from step (clearer, never silently different configuration):

* ``--context`` when no contexts exist is an error (step ignores it and uses the
  vintage files).
* A ``--config`` file that is missing or malformed is an error (step ignores it).
* A stale ``current-context.json`` only fails when it is actually used (not when
  ``--context`` picks another context).
* Relative paths inside defaults.json stay relative to the CWD, like step.
"""

from __future__ import annotations

import json
import os
import posixpath
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from pystep.caurl import normalize_ca_url
from pystep.errors import ConfigError

__all__ = [
    "ContextChooser",
    "Notifier",
    "StepEnvironment",
    "go_clean",
    "load_environment",
    "normalize_ca_url",
]

ContextChooser = Callable[[Sequence[str]], str]
Notifier = Callable[[str], None]

BANNED_CONFIG_KEYS = ("context", "profile", "authority")
_CONTEXTS_SUFFIX = "; check your $STEPPATH/contexts.json file"


class StepEnvironment(NamedTuple):
    """The resolved step environment.

    ``default_root`` is ``<step path>/certs/root_ca.crt`` (context-aware).
    ``default_ca_config`` is ``<base>/config/ca.json`` and deliberately *not*
    context-aware: step computes the ``--ca-config`` default before it loads contexts
    (client spec §3.7), and we stay compatible with that quirk.
    ``config_files`` lists the configuration files that were actually read.
    """

    base_path: str
    step_path: str
    profile_path: str
    context: str | None
    defaults: Mapping[str, Any]
    default_root: str
    default_ca_config: str
    home: str = ""
    authority: str | None = None
    profile: str | None = None
    contexts: tuple[str, ...] = ()
    config_files: tuple[str, ...] = ()


class _ContextEntry(NamedTuple):
    name: str
    authority: str
    profile: str


def go_clean(path: str) -> str:
    """Go's ``filepath.Clean`` on POSIX paths."""
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _join(*parts: str) -> str:
    return go_clean(posixpath.join(*parts))


def _home(env: Mapping[str, str]) -> str:
    home = env.get("HOME", "")
    if home:
        return home
    try:
        import pwd

        home = pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError, OSError):
        home = ""
    if not home:
        raise ConfigError(
            "error obtaining home directory, please define environment variable HOME"
        )
    return home


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character '{name[0]}' looking for beginning of value")


MAX_CONFIG_BYTES = 4 << 20  # contexts.json and defaults.json are a few hundred bytes


def _read_json(path: str, *, describe: str | None = None) -> tuple[bool, Any]:
    """(found, value) for a JSON file; missing → (False, None)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return False, None
    except OSError as exc:
        raise ConfigError(f"error reading {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"error reading {path}: file too large")
    try:
        return True, json.loads(data.decode("utf-8", "replace"), parse_constant=_reject_constant)
    except RecursionError:
        raise ConfigError(f"{describe or f'error parsing {path}'}: nested too deeply") from None
    except ValueError as exc:
        what = describe or f"error parsing {path}"
        raise ConfigError(f"{what}: {exc}") from None


def _read_object(path: str, *, describe: str | None = None) -> dict[str, Any] | None:
    found, value = _read_json(path, describe=describe)
    if not found:
        return None
    if value is None:
        return {}
    if not isinstance(value, dict):
        what = describe or f"error parsing {path}"
        raise ConfigError(f"{what}: expected a JSON object, found {_json_kind(value)}")
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _load_contexts(base: str) -> dict[str, _ContextEntry]:
    path = _join(base, "contexts.json")
    describe = f"error unmarshaling context map {path}"
    raw = _read_object(path, describe=describe)
    if raw is None:
        return {}
    contexts: dict[str, _ContextEntry] = {}
    for name in sorted(raw):
        entry = raw[name]
        if entry is None:
            raise ConfigError(f"error in context '{name}': context cannot be nil{_CONTEXTS_SUFFIX}")
        if not isinstance(entry, dict):
            raise ConfigError(f"{describe}: context '{name}' is not a JSON object")
        values: dict[str, str] = {}
        for key in ("authority", "profile"):
            value = entry.get(key)
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise ConfigError(f"{describe}: '{key}' of context '{name}' is not a string")
            if not value:
                raise ConfigError(
                    f"error in context '{name}': context cannot have an empty {key} value"
                    f"{_CONTEXTS_SUFFIX}"
                )
            values[key] = value
        contexts[name] = _ContextEntry(name, values["authority"], values["profile"])
    return contexts


def _load_current(base: str) -> str | None:
    path = _join(base, "current-context.json")
    raw = _read_object(path, describe=f"error unmarshaling current context {path}")
    if raw is None:
        return None
    name = raw.get("context")
    if name is None:
        return ""
    if not isinstance(name, str):
        raise ConfigError(f"error unmarshaling current context {path}: 'context' is not a string")
    return name


def _sorted_names(contexts: Mapping[str, _ContextEntry]) -> tuple[str, ...]:
    return tuple(sorted(contexts, key=lambda n: (n.lower(), n)))


def _select_context(
    contexts: Mapping[str, _ContextEntry],
    requested: str | None,
    current: str | None,
    choose_context: ContextChooser | None,
    notify: Notifier,
) -> _ContextEntry:
    if requested is not None:
        name = requested
    elif current is not None:
        name = current
    else:
        names = _sorted_names(contexts)
        if len(names) == 1:
            name = names[0]
            notify(f"✔ Context: {name}")
        elif choose_context is not None:
            name = choose_context(names)
        else:
            raise ConfigError(
                "no current context is set; select one with --context <name> "
                f"(or STEP_CONTEXT): {', '.join(names)}"
            )
    entry = contexts.get(name)
    if entry is None:
        raise ConfigError(f"could not load context '{name}'")
    return entry


def _load_context_config(
    base: str, entry: _ContextEntry, notify: Notifier
) -> tuple[dict[str, Any], tuple[str, ...]]:
    merged: dict[str, Any] = {}
    read: list[str] = []
    for path in (
        _join(base, "authorities", entry.authority, "config", "defaults.json"),
        _join(base, "profiles", entry.profile, "config", "defaults.json"),
    ):
        values = _read_object(path)
        if values is None:
            continue
        read.append(path)
        merged.update(values)
    for key in BANNED_CONFIG_KEYS:
        if key in merged:
            notify(f"cannot set '{key}' attribute in config files")
            del merged[key]
    return merged, tuple(read)


def _ignore(_message: str) -> None:
    return None


def load_environment(
    env: Mapping[str, str],
    *,
    context: str | None = None,
    config_file: str | None = None,
    choose_context: ContextChooser | None = None,
    notify: Notifier | None = None,
) -> StepEnvironment:
    """Resolve STEPPATH, the context and its configuration (see the module docstring).

    ``context`` is the value of ``--context``/``STEP_CONTEXT`` (None when neither is
    given); ``config_file`` is the global ``--config``. ``choose_context`` receives the
    context names sorted case-insensitively and returns one of them. ``notify``
    receives one-line notices meant for stderr.
    """
    say = notify or _ignore
    home = go_clean(_home(env))
    base = go_clean(env.get("STEPPATH") or _join(home, ".step"))
    default_ca_config = _join(base, "config", "ca.json")
    contexts = _load_contexts(base)
    current = _load_current(base)
    if current is not None and not contexts:
        raise ConfigError(f"could not load context '{current}'")

    if contexts:
        entry = _select_context(contexts, context, current, choose_context, say)
        config, read = _load_context_config(base, entry, say)
        step_path = _join(base, "authorities", entry.authority)
        return StepEnvironment(
            base_path=base,
            step_path=step_path,
            profile_path=_join(base, "profiles", entry.profile),
            context=entry.name,
            defaults=MappingProxyType(config),
            default_root=_join(step_path, "certs", "root_ca.crt"),
            default_ca_config=default_ca_config,
            home=home,
            authority=entry.authority,
            profile=entry.profile,
            contexts=_sorted_names(contexts),
            config_files=read,
        )

    if context is not None:
        raise ConfigError(
            f"could not load context '{context}'",
            hint=f"no contexts are defined in {_join(base, 'contexts.json')}",
        )
    path = config_file if config_file else _join(base, "config", "defaults.json")
    values = _read_object(path)
    if values is None and config_file:
        raise ConfigError(f"error reading {config_file}: no such file or directory")
    return StepEnvironment(
        base_path=base,
        step_path=base,
        profile_path=base,
        context=None,
        defaults=MappingProxyType(values or {}),
        default_root=_join(base, "certs", "root_ca.crt"),
        default_ca_config=default_ca_config,
        home=home,
        config_files=(path,) if values is not None else (),
    )
