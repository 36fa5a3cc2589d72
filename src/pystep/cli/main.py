"""Entry point: dispatch ``pystep ca token`` and friends; turn errors into one line."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

TOP_HELP = """\
NAME
  pystep -- mint step-ca one-time tokens (a Python `step ca token`)

USAGE
  pystep ca token <subject> [flags]     mint a token (see pystep ca token --help)
  pystep ca inspect-token [TOKEN|-]      show a token's header and claims
  pystep ca verify-token [TOKEN|-]       predict step-ca's verdict, check by check
  pystep version                         print the version

GLOBAL FLAGS
  --config <file>   the defaults.json to use instead of $STEPPATH/config/defaults.json
                    (as step's global --config; only without contexts)

Set STEPDEBUG=1 to see a traceback when something fails.
"""


def _global_config(args: list[str]) -> str | None:
    """Take step's app-level ``--config <file>`` (or ``--config=<file>``) off the front."""
    if args and args[0] in ("--config", "-config"):
        if len(args) < 2:
            from pystep.errors import UsageError

            raise UsageError("flag needs an argument: -config")
        config = args[1]
        del args[:2]
        return config
    if args and args[0].startswith(("--config=", "-config=")):
        return args.pop(0).partition("=")[2]
    return None


def _dispatch(argv: Sequence[str]) -> int:
    args = list(argv)
    config_file = _global_config(args)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(TOP_HELP)
        return 0
    if args[0] in ("version", "--version", "-v"):
        from pystep import __version__

        sys.stdout.write(f"pystep {__version__}\n")
        return 0
    if args[0] == "ca":
        sub = args[1] if len(args) > 1 else ""
        if sub == "token":
            from pystep.cli.token_cmd import run

            return run(args[2:], os.environ, config_file=config_file)
        if sub in ("inspect-token", "verify-token"):
            from pystep.cli import inspect_cmd

            cmd = inspect_cmd.run_inspect if sub == "inspect-token" else inspect_cmd.run_verify
            return cmd(args[2:], os.environ)
        if sub in ("", "-h", "--help", "help"):
            sys.stdout.write(TOP_HELP)
            return 0
        from pystep.errors import UsageError

        raise UsageError(f"'{sub}' is not a pystep ca command", hint="see pystep --help")
    from pystep.errors import UsageError

    raise UsageError(f"'{args[0]}' is not a pystep command", hint="see pystep --help")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status. Never lets a traceback reach the user unless
    STEPDEBUG=1 asks for it."""
    if argv is None:
        argv = sys.argv[1:]
    debug = os.environ.get("STEPDEBUG") == "1"
    try:
        return _dispatch(argv)
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:
        from pystep.errors import PystepError

        if debug:
            import traceback

            traceback.print_exc()
        if isinstance(exc, PystepError):
            sys.stderr.write(exc.diagnostics() + "\n")
            return exc.exit_code
        sys.stderr.write(
            f"unexpected error ({type(exc).__name__}); rerun with STEPDEBUG=1 for details\n"
        )
        return 2
