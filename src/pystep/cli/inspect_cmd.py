"""``pystep ca inspect-token`` and ``pystep ca verify-token``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from pystep.cli.grammar import FlagSpec, ParsedArgs
from pystep.errors import InputError, UsageError

FORMAT = FlagSpec(("format",), "string", default="text", placeholder="text|json",
                  help="The output <format>: text or json.", from_config=False)

INSPECT_FLAGS: tuple[FlagSpec, ...] = (FORMAT,)

VERIFY_FLAGS: tuple[FlagSpec, ...] = (
    FlagSpec(("ca-url",), "string", placeholder="uri",
             help="<uri> of the targeted Step Certificate Authority (its provisioners and SSH "
             "keys are read from it; the expected audience host is the URL's host)."),
    FlagSpec(("root",), "string", placeholder="file",
             help="The path to the PEM <file> used as the root certificate authority."),
    FlagSpec(("ca-config",), "string", placeholder="file",
             help="The CA configuration <file> (ca.json): provisioners, dnsNames and claims "
             "come from it and the CA is not contacted."),
    FlagSpec(("offline",), "bool", help="Use --ca-config (default $STEPPATH/config/ca.json) "
             "instead of the CA."),
    FlagSpec(("context",), "string", placeholder="name",
             help="The context <name> to apply for the given command."),
    FlagSpec(("for",), "string", default="sign", placeholder="operation", from_config=False,
             help="The operation the token is for: sign, revoke, renew, ssh-sign, ssh-revoke, "
             "ssh-renew or ssh-rekey."),
    FlagSpec(("csr",), "string", placeholder="file", from_config=False,
             help="The CSR <file> (PEM or DER) that will be sent with the token (--for sign): "
             "adds the CA's CSR checks."),
    FlagSpec(("ca-start",), "string", placeholder="time", from_config=False,
             help="(pystep) When the CA started (RFC 3339 or Unix seconds): the CA refuses "
             "tokens issued before."),
    FORMAT,
)

_MARK = {"pass": "✔", "fail": "✖", "warn": "!", "info": "·", "skip": "-"}


def _read_token(args: ParsedArgs, command: str) -> str:
    if len(args.positionals) > 1:
        raise UsageError(f"too many positional arguments were provided in '{command}'")
    source = args.positionals[0] if args.positionals else "-"
    text = sys.stdin.read(1 << 20) if source == "-" else source
    text = text.strip()
    if not text:
        raise InputError("no token given: pass it as an argument or on stdin")
    return text


def _format(args: ParsedArgs) -> str:
    fmt = args.string("format")
    if fmt not in ("text", "json"):
        raise UsageError(f"invalid value '{fmt}' for flag '--format'")
    return fmt


def _parse(argv: Sequence[str], specs: tuple[FlagSpec, ...], environ: Mapping[str, str],
           usage: str, summary: str) -> tuple[ParsedArgs | None, Any]:
    from pystep.cli.grammar import parse_args, render_help, resolve
    from pystep.config import load_environment

    raw = parse_args(list(argv), specs)
    if raw.help:
        sys.stdout.write(str(render_help(usage.split(" [")[0], usage, summary, specs, (),
                                         summary=summary)))
        return None, None
    first = resolve(raw, specs, environ)
    env = load_environment(environ, context=first.string_if_set("context") if any(
        "context" in s.names for s in specs) else None)
    return resolve(raw, specs, environ, env.defaults), env


def run_inspect(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    from pystep.verify.inspect import inspect_token

    args, _ = _parse(argv, INSPECT_FLAGS, environ, "pystep ca inspect-token [TOKEN|-]",
                     "show a token's header and claims without verifying it")
    if args is None:
        return 0
    fmt = _format(args)
    info = inspect_token(_read_token(args, "pystep ca inspect-token"))
    if fmt == "json":
        sys.stdout.write(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
        return 0
    out = [f"kind: {info['kind']} (guessed from the header)"]
    if info["operation"]:
        out.append(f"operation: {info['operation']} (from aud)")
    if info["validity"]:
        out.append(f"validity: {info['validity']}")
    out.append("header:")
    out += [f"  {k}: {_short(v)}" for k, v in info["header"].items()]
    out.append("claims:")
    for k, v in info["claims"].items():
        t = info["times"].get(k)
        if isinstance(t, dict):
            out.append(f"  {k}: {v} ({t['time']}, {t['relative']})")
        else:
            out.append(f"  {k}: {json.dumps(v, ensure_ascii=False)}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 100 else text[:97] + "..."


def _authority(args: ParsedArgs, env: Any) -> Any:
    import os

    from pystep.verify.authority import from_ca_config, from_ca_url

    root = args.string("root") or None
    explicit_config = args.source("ca-config") == "flag"
    if args.flag("offline") or explicit_config or not args.string("ca-url"):
        path = args.string("ca-config") or env.default_ca_config
        if not path or not os.path.exists(path):
            raise UsageError("'pystep ca verify-token' requires the '--ca-url' flag or a "
                             "ca.json (--ca-config)")
        return from_ca_config(path, root)
    from pystep.config import normalize_ca_url

    if root is None:
        if not os.path.exists(env.default_root):
            raise UsageError("'pystep ca verify-token' requires the '--root' flag")
        root = env.default_root
    return from_ca_url(normalize_ca_url(args.string("ca-url")), root)


def _ca_start(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    from pystep.timeutil import parse_rfc3339

    try:
        return parse_rfc3339(text).timestamp()
    except ValueError:
        raise UsageError(f"invalid value '{text}' for flag '--ca-start'") from None


def run_verify(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    from pystep.verify.pipeline import verify_token
    from pystep.verify.result import Operation

    args, env = _parse(argv, VERIFY_FLAGS, environ,
                       "pystep ca verify-token [TOKEN|-] [flags]",
                       "predict whether step-ca would accept a token, check by check")
    if args is None:
        return 0
    fmt = _format(args)
    try:
        op = Operation.parse(args.string("for"))
    except ValueError:
        raise UsageError(f"invalid value '{args.string('for')}' for flag '--for'") from None
    token = _read_token(args, "pystep ca verify-token")
    csr = None
    if args.string("csr"):
        try:
            with open(args.string("csr"), "rb") as fh:
                csr = fh.read(1 << 20)
        except OSError as exc:
            raise InputError(f"error reading {args.string('csr')}: {exc.strerror}") from None
    authority = _authority(args, env)
    if args.string("ca-start"):
        authority.started_at = _ca_start(args.string("ca-start"))
    verdict = verify_token(token, authority, op, csr=csr)
    if fmt == "json":
        sys.stdout.write(json.dumps(verdict.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        head = f"token for {op.value}"
        if verdict.provisioner:
            head += f", provisioner {verdict.provisioner} ({verdict.provisioner_type})"
        lines = [head]
        width = max((len(c.name) for c in verdict.checks), default=0)
        for c in verdict.checks:
            lines.append(f"  {_MARK[c.status]} {c.name.ljust(width)}  {c.reason}".rstrip())
        lines += [f"  note: {n}" for n in verdict.notes]
        fail = verdict.failure
        if fail is None:
            lines.append(f"the CA would accept it ({verdict.http_status})")
        else:
            lines.append(f"the CA would refuse it ({verdict.http_status}): {fail.reason}")
        sys.stdout.write("\n".join(lines) + "\n")
    return 0 if verdict.accepted else 1
