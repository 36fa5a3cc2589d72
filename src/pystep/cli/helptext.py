"""Help text shaped like step's (NAME / USAGE / DESCRIPTION / OPTIONS / EXAMPLES).

step renders markdown to the terminal: section titles at column 0, text indented by six
spaces, each option on its own line (``--ca-url=<uri>``, aliases joined by ``, ``) with
its description indented by ten.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence

from pystep.cli.grammar import FlagSpec

_INDENT = " " * 6
_DETAIL = " " * 10
_WIDTH = 80


def flag_synopsis(spec: FlagSpec) -> str:
    """``--provisioner=<name>, --issuer=<name>``; ``-f, --force`` for bools."""
    placeholder = spec.placeholder or spec.name
    forms = []
    for name in spec.names:
        form = ("-" if len(name) == 1 else "--") + name
        if spec.kind != "bool":
            form += f"=<{placeholder}>"
        forms.append(form)
    return ", ".join(forms)


def _paragraphs(text: str, indent: str) -> list[str]:
    lines: list[str] = []
    for block in text.strip().split("\n\n"):
        if not block.strip():
            continue
        if lines:
            lines.append("")
        if block.startswith(" ") or block.lstrip().startswith("$ "):
            # Pre-formatted (commands, lists): keep the lines as written.
            lines.extend(indent + line.rstrip() for line in block.splitlines())
            continue
        wrapped = textwrap.fill(
            " ".join(block.split()),
            width=_WIDTH,
            initial_indent=indent,
            subsequent_indent=indent,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.extend(wrapped.splitlines())
    return lines


def render_help(
    command_name: str,
    usage: str,
    description: str,
    specs: Iterable[FlagSpec],
    examples: Sequence[tuple[str, str]] = (),
    *,
    summary: str = "",
) -> str:
    """The full help text; ``examples`` are (explanation, command) pairs."""
    out: list[str] = ["NAME"]
    out.append(f"{_INDENT}{command_name}" + (f" -- {summary}" if summary else ""))
    out += ["", "USAGE"]
    out += textwrap.wrap(
        usage,
        width=_WIDTH,
        initial_indent=_INDENT,
        subsequent_indent=_INDENT + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or [_INDENT + command_name]
    if description.strip():
        out += ["", "DESCRIPTION", *_paragraphs(description, _INDENT)]
    visible = [spec for spec in specs if not spec.hidden]
    if visible:
        out += ["", "OPTIONS"]
        for spec in visible:
            out += ["", _INDENT + flag_synopsis(spec)]
            if spec.help.strip():
                out += _paragraphs(spec.help, _DETAIL)
        out += ["", _INDENT + "-h, --help", _DETAIL + "show help"]
    if examples:
        out += ["", "EXAMPLES"]
        for index, (explanation, command) in enumerate(examples):
            if index:
                out.append("")
            out += _paragraphs(explanation, _INDENT)
            out += ["", f"{_INDENT}  $ {command}"]
    return "\n".join(out) + "\n"
