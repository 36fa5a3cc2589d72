"""``pystep ca token``: flags → TokenRequest → provisioner → token, as step does."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pystep.cli.grammar import ParsedArgs
from pystep.errors import InputError, UsageError
from pystep.provisioners.base import (
    Credentials,
    MintContext,
    Minter,
    ProvisionerRecord,
)
from pystep.request import TokenKind, TokenRequest
from pystep.session import TokenSession

COMMAND = "step ca token"
USAGE = "pystep ca token <subject> [flags]"


class UI:
    """How the command may talk to the user; ``tty`` is None when it may not ask."""

    __slots__ = ("stderr", "tty")

    def __init__(self, tty: Any, stderr: Any = sys.stderr) -> None:
        self.tty = tty  # pystep.cli.prompts.Terminal | None
        self.stderr = stderr

    def __repr__(self) -> str:
        return f"UI(tty={self.tty!r}, stderr={self.stderr!r})"

    def notify(self, text: str) -> None:
        self.stderr.write(text + "\n")
        self.stderr.flush()


def _check_flags(args: ParsedArgs) -> None:
    """step's checks before anything else, in step's order (spec client.md §2)."""
    n = len(args.positionals)
    if args.string("batch"):
        if n:
            raise UsageError("flag '--batch' is incompatible with the <subject> argument")
    elif n < 1:
        raise UsageError(f"not enough positional arguments were provided in '{COMMAND} <subject>'")
    if n > 1:
        raise UsageError(f"too many positional arguments were provided in '{COMMAND} <subject>'")
    fmt = args.string("format") or "text"
    if fmt not in ("text", "json"):
        raise UsageError(f"invalid value '{fmt}' for flag '--format'")
    if args.flag("fail-fast") and not args.string("batch"):
        raise UsageError("flag '--fail-fast' requires the '--batch' flag")
    if args.string("batch") == "-" and "-" in (
        args.string("password-file"), args.string("provisioner-password-file")
    ):
        raise UsageError("flag '--batch' and the password file cannot both read stdin ('-')")
    sans = args.strings("san")
    for flag in ("ssh", "host", "principal"):
        if sans and args.value(flag):
            raise UsageError(f"flag '--{flag}' is incompatible with '--san'")
    for flag in ("host", "principal"):
        if args.value(flag) and not args.flag("ssh"):
            raise UsageError(f"flag '--{flag}' requires the '--ssh' flag")
    if args.string("cnf-file") and args.string("cnf"):
        raise UsageError("flag '--cnf-file' is incompatible with '--cnf'")


def token_kind(args: ParsedArgs) -> TokenKind:
    return TokenKind.from_flags(
        ssh=bool(args.flag("ssh")),
        revoke=bool(args.flag("revoke")),
        renew=bool(args.flag("renew")),
        rekey=bool(args.flag("rekey")),
        host=bool(args.flag("host")),
    )


def _cnf(args: ParsedArgs) -> str | None:
    """``--cnf`` verbatim, or the x5rt#S256 of the ``--cnf-file`` CSR."""
    path = args.string("cnf-file")
    if not path:
        return args.string("cnf") or None
    from pystep.jose.encoding import b64url_encode

    data = _read_small(path)
    if args.flag("ssh"):
        from cryptography.hazmat.primitives.serialization import load_ssh_public_key

        try:
            load_ssh_public_key(data.strip())
        except Exception as exc:  # ValueError, UnsupportedAlgorithm
            raise InputError(f"error parsing ssh public key {path}: {exc}") from None
        return None  # latest step parses it but writes no cnf for SSH tokens
    import hashlib

    from cryptography import x509

    try:
        if b"-----BEGIN" in data:
            csr = x509.load_pem_x509_csr(data)
        else:
            csr = x509.load_der_x509_csr(data)
    except ValueError as exc:
        raise InputError(f"error parsing certificate request {path}: {exc}") from None
    from cryptography.hazmat.primitives.serialization import Encoding

    return b64url_encode(hashlib.sha256(csr.public_bytes(Encoding.DER)).digest())


def _read_small(path: str, limit: int = 1 << 20) -> bytes:
    from pystep._files import read_bounded

    return read_bounded(path, limit, dash_is_stdin=True)


def _user_claim(args: ParsedArgs) -> dict[str, Any]:
    """``--set-file`` then ``--set k=v`` (JSON-looking values decoded)."""
    from pystep.userclaim import decode_value, load_object

    user: dict[str, Any] = {}
    set_file = args.string("set-file")
    if set_file:
        try:
            user.update(load_object(_read_small(set_file), "the file"))
        except ValueError as exc:
            raise InputError(f"error unmarshaling {set_file}: {exc}") from None
    for item in args.strings("set") or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"invalid value '{item}' for flag '--set'")
        user[key] = decode_value(value)
    return user


def _validity(args: ParsedArgs, now: datetime) -> tuple[datetime | None, datetime | None]:
    from pystep.timeutil import parse_time_or_duration

    out: list[datetime | None] = []
    for flag in ("not-before", "not-after"):
        value = args.string(flag)
        if not value:
            out.append(None)
            continue
        try:
            out.append(parse_time_or_duration(value, now))
        except ValueError:
            raise UsageError(f"invalid value '{value}' for flag '--{flag}'") from None
    return out[0], out[1]


def _cert_validity(args: ParsedArgs) -> list[Any]:
    from pystep.timeutil import TimeDuration

    out: list[Any] = []
    for flag in ("cert-not-before", "cert-not-after"):
        value = args.string(flag)
        try:
            out.append(TimeDuration.parse(value) if value else None)
        except ValueError:
            raise UsageError(f"invalid value '{value}' for flag '--{flag}'") from None
    return out


def build_request(args: ParsedArgs, kind: TokenKind, *, online: bool) -> TokenRequest:
    """Steps 6–11 of step's validation, producing the typed request."""
    cnf = _cnf(args)
    user = _user_claim(args)
    sans = tuple(args.strings("san") or ())
    if kind is TokenKind.REVOKE and sans:
        raise UsageError("flag '--san' is incompatible with '--revoke'")
    if not online:
        if args.strings("set"):
            raise UsageError("flag '--offline' is incompatible with '--set'")
        if args.string("set-file"):
            raise UsageError("flag '--offline' is incompatible with '--set-file'")
    now = datetime.now(UTC)
    not_before, not_after = _validity(args, now)
    cert_nb, cert_na = _cert_validity(args)
    return TokenRequest(
        subject=args.positionals[0] if args.positionals else "",
        kind=kind,
        sans=sans,
        principals=tuple(args.strings("principal") or ()),
        not_before=not_before,
        not_after=not_after,
        cert_not_before=cert_nb,
        cert_not_after=cert_na,
        cnf=cnf if online else None,
        user=user if online else None,
    )


def credentials(args: ParsedArgs) -> Credentials:
    return Credentials(
        key=args.string("key") or None,
        kid=args.string("kid") or None,
        x5c_cert=args.string("x5c-cert") or None,
        x5c_key=args.string("x5c-key") or None,
        x5c_insecure=bool(args.flag("x5c-insecure")),
        sshpop_cert=args.string("sshpop-cert") or None,
        sshpop_key=args.string("sshpop-key") or None,
        nebula_cert=args.string("nebula-cert") or None,
        nebula_key=args.string("nebula-key") or None,
        k8ssa_token_path=args.string("k8ssa-token-path") or None,
        kms=args.string("kms") or None,
        console=bool(args.flag("console")),
    )


def type_filter(args: ParsedArgs) -> str | None:
    """The provisioner type implied by the credential flags that are set (spec §7.3);
    flags set from the environment or defaults.json count, as in step."""
    from pystep.provisioners.select import implied_type

    def any_set(*names: str) -> bool:
        return any(args.is_set(n) for n in names)

    return implied_type(
        x5c=any_set("x5c-cert", "x5c-key", "x5c-chain"),
        sshpop=any_set("sshpop-cert", "sshpop-key"),
        nebula=any_set("nebula-cert", "nebula-key"),
        k8ssa=any_set("k8ssa-token-path"),
    )


def passwords_for(args: ParsedArgs, ui: UI) -> Any:
    from pystep.passwords import Passwords, read_password_file

    path = args.string("provisioner-password-file") or args.string("password-file")
    fixed = read_password_file(path) if path else None
    prompter = ui.tty.password if ui.tty is not None else None
    return Passwords(
        fixed=fixed,
        prompter=prompter,
        flag_hint="--provisioner-password-file or --password-file",
    )


def select_provisioner(session: TokenSession, args: ParsedArgs, ui: UI) -> ProvisionerRecord:
    chooser = None
    if ui.tty is not None:
        tty = ui.tty

        def chooser(items: Sequence[ProvisionerRecord]) -> ProvisionerRecord:
            index: int = tty.select(
                "What provisioner key do you want to use?", [r.label for r in items]
            )
            return items[index]

    record = session.select(
        name=args.string("provisioner") or None,
        kid=args.string("kid") or None,
        only_type=type_filter(args),
        chooser=chooser,
    )
    ui.notify(f"✔ Provisioner: {record.label}")
    return record


def make_minter(args: ParsedArgs, env: Any, ui: UI) -> tuple[Minter, TokenKind, TokenRequest]:
    """Everything between the parsed flags and a ready Minter (online or offline): the
    flags become a :class:`TokenSession` and its calls, in step's order of checks."""
    from pystep.config import normalize_ca_url

    _check_flags(args)
    kind = token_kind(args)
    offline = bool(args.flag("offline"))
    ca_url_raw = args.string("ca-url") or ""
    if not offline and not ca_url_raw:
        raise UsageError(f"'{COMMAND}' requires the '--ca-url' flag")
    ca_url = normalize_ca_url(ca_url_raw, allow_empty=offline) if ca_url_raw else ""
    root = args.string("root") or ""
    if not root:
        if not os.path.exists(env.default_root):
            raise UsageError(f"'{COMMAND}' requires the '--root' flag")
        root = env.default_root
    req = build_request(args, kind, online=not offline)

    ca_config = args.string("ca-config") or env.default_ca_config
    session = TokenSession(
        ca_url=ca_url,
        root=root,
        offline=offline,
        ca_config=ca_config if offline and ca_config and os.path.exists(ca_config) else None,
        steppath=env.base_path,
        notify=ui.notify,
    )
    pin_prompter = None
    if ui.tty is not None:
        tty = ui.tty

        def pin_prompter(prompt: str) -> str:
            return str(tty.password(prompt).decode())

    ctx = session.context(
        credentials=credentials(args),
        passwords=passwords_for(args, ui),
        pin_prompter=pin_prompter,
        extra={"x5c_chain": tuple(args.strings("x5c-chain") or ())},
    )
    ctx.interactive = ui.tty is not None
    if kind is TokenKind.RENEW:
        if args.is_set("x5c-chain"):
            raise UsageError(
                "flag '--x5c-chain' is only used with X5C provisioners, not with '--renew'",
                hint="renew tokens take the whole chain from the --x5c-cert file",
            )
        return _renew_minter(ctx), kind, req
    if not session.standalone:
        record = select_provisioner(session, args, ui)
        return _prepare(record, ctx), kind, req

    # Offline without ca.json: --key signs, --issuer names the issuer.
    if type_filter(args) is not None:
        raise UsageError(
            f"{type_filter(args)} tokens cannot be made offline without a ca.json",
            hint="give --ca-config with the CA's configuration, or drop --offline",
        )
    issuer = args.string("provisioner")
    if not issuer:
        raise UsageError("flag '--offline' requires the '--provisioner' flag")
    if not args.string("key"):
        raise UsageError("flag '--offline' requires the '--key' flag")
    from pystep.provisioners.jwk import prepare_standalone

    return prepare_standalone(issuer, ctx), kind, req


def _prepare(record: ProvisionerRecord, ctx: MintContext) -> Minter:
    from pystep.provisioners import prepare

    return prepare(record, ctx)


def _renew_minter(ctx: MintContext) -> Minter:
    from pystep.session import prepare_renew_minter

    return prepare_renew_minter(ctx)


def run(
    argv: Sequence[str], environ: Mapping[str, str], *, config_file: str | None = None
) -> int:
    """The command; raises PystepError on failure (the caller renders it).
    ``config_file`` is step's global ``--config`` (a defaults.json to use instead)."""
    from pystep.cli import prompts
    from pystep.cli.grammar import parse_args, render_help, resolve
    from pystep.cli.token_flags import TOKEN_FLAGS
    from pystep.config import load_environment

    raw = parse_args(list(argv), TOKEN_FLAGS)
    if raw.help:
        sys.stdout.write(help_text(render_help))
        return 0
    first = resolve(raw, TOKEN_FLAGS, environ)
    ui = UI(tty=None)
    env = load_environment(
        environ,
        context=first.string_if_set("context"),
        config_file=config_file,
        notify=ui.notify,
    )
    args = resolve(raw, TOKEN_FLAGS, environ, env.defaults)
    non_interactive = args.flag("non-interactive") or _truthy(
        environ.get("STEP_NON_INTERACTIVE", "")
    )
    tty = None if non_interactive else prompts.terminal()
    ui.tty = tty

    minter, kind, req = make_minter(args, env, ui)
    if args.string("batch"):
        from pystep.cli.batch_cmd import run_batch

        return run_batch(args, minter, req, ui)
    record = getattr(minter, "record", None)
    subject_unused = kind is TokenKind.RENEW or (  # renew: the certificate's CN
        record is not None and record.type in ("OIDC", "K8sSA", "GCP", "Azure")
    )
    if not req.subject and not subject_unused:
        if tty is None:
            from pystep.errors import InteractionRequired

            raise InteractionRequired(
                "the subject is empty and pystep cannot prompt for it",
                hint="give the subject as the <subject> argument",
            )
        question = (
            "What user principal would you like to use? (e.g. alice)"
            if kind is TokenKind.SSH_USER_SIGN
            else "What DNS names or IP addresses would you like to use? "
            "(e.g. internal.smallstep.com)"
        )
        req = req._replace(subject=tty.line(question))
    token = minter.mint(req)
    text = render_token_json(token) if args.string("format") == "json" else token
    emit(args, text, ui)
    return 0


def render_token_json(token: str) -> str:
    """``--format json``: ``{"token": …, "header": …, "claims": …}`` on one line."""
    from pystep.jose.jws import decode_compact

    decoded = decode_compact(token)
    return json.dumps(
        {"token": token, "header": decoded.header, "claims": decoded.claims},
        ensure_ascii=False,
    )


def emit(args: ParsedArgs, text: str, ui: UI) -> None:
    """stdout, or ``--output-file`` (0600; an existing file only with --force or a yes)."""
    out = args.string("output-file")
    if out:
        from pystep.cli.output import write_token_file

        write_token_file(
            out,
            text,
            force=bool(args.flag("f")),
            confirm=ui.tty.confirm if ui.tty is not None else None,
        )
    else:
        from pystep.cli.output import print_stdout

        print_stdout(text)


def _truthy(value: object) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "t", "true", "yes", "y")


def help_text(render_help: Any) -> str:
    from pystep.cli.token_flags import TOKEN_FLAGS

    return str(
        render_help(
            "pystep ca token",
            USAGE,
            DESCRIPTION,
            TOKEN_FLAGS,
            EXAMPLES,
            summary="generate an OTT granting access to the CA",
        )
    )


DESCRIPTION = """\
**pystep ca token** command generates a one-time token granting access to the
certificates authority, as **step ca token** does, flag for flag.

<subject> is the Common Name, DNS name or IP address the certificate authority will set.
With --revoke it is the serial number of the certificate; with --ssh it is the SSH key ID.

It prints exactly one token on stdout, or writes it to --output-file with mode 0600.
Informational lines and prompts go to the terminal or stderr, never to stdout.

Differences from step, on purpose (docs/compatibility.md lists them all): a bool flag
never swallows the next word, so --revoke 1461033496 --provisioner admin works. When
several provisioners fit and there is no terminal, the error lists them. --offline with a
ca.json reads only that file: no CA database, no CA key password. JWK tokens for SSH
renew or rekey, which step-ca always refuses, are not minted."""

EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Most common use case, a token for a certificate:",
     "$ TOKEN=$(pystep ca token internal.example.com)"),
    ("With the provisioner and the password file given:",
     "$ pystep ca token internal.example.com --provisioner admin --password-file pass.txt"),
    ("A token for several SANs, valid for 10 minutes:",
     "$ pystep ca token internal.example.com --san internal.example.com --san 10.0.0.1 "
     "--not-after 10m"),
    ("A token to revoke a certificate (the subject is the serial number):",
     "$ pystep ca token --revoke 146103349666685108195655980390445292315"),
    ("A token for an SSH user certificate:",
     "$ pystep ca token --ssh --principal alice alice@example.com"),
    ("A token for an SSH host certificate:",
     "$ pystep ca token --ssh --host --principal host.example.com host.example.com"),
    ("Offline, from the CA's configuration:",
     "$ pystep ca token internal.example.com --offline --ca-config $(step path)/config/ca.json"),
    ("Offline, with your own key for a JWK provisioner:",
     "$ pystep ca token internal.example.com --offline --issuer me@example.com "
     "--key key.priv.json --ca-url https://ca.example.com --root root_ca.crt"),
    ("A renew token for a certificate you hold:",
     "$ pystep ca token --renew --x5c-cert internal.crt --x5c-key internal.key "
     "internal.example.com"),
)
