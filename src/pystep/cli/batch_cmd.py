"""``pystep ca token --batch FILE``: one unlocked provisioner, one token per input line."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pystep.cli.grammar import ParsedArgs
    from pystep.cli.token_cmd import UI
    from pystep.provisioners.base import Minter
    from pystep.request import TokenRequest


def run_batch(args: ParsedArgs, minter: Minter, base: TokenRequest, ui: UI) -> int:
    """Mint every line of ``--batch``; bad lines go to stderr with their line number.

    Output: one token per line in input order (``--format json``: one JSON object per
    line, failed lines included with ``error``), on stdout or in ``--output-file``.
    Exit status 1 when any line failed; ``--fail-fast`` stops at the first one.
    """
    from pystep.batch import mint_batch, parse_batch, progress_for, read_batch_lines, render_result

    path = args.string("batch")
    items = parse_batch(read_batch_lines(path), base)
    fmt = args.string("format") or "text"
    progress = progress_for(ui.stderr, len(items))
    to_file = bool(args.string("output-file"))
    collected: list[str] = []
    failed = seen = 0
    stdout = sys.stdout
    for result in mint_batch(
        minter, items, fail_fast=bool(args.flag("fail-fast")), progress=progress
    ):
        seen += 1
        if result.error is not None:
            failed += 1
            prefix = "\r\x1b[2K" if progress is not None else ""
            ui.stderr.write(f"{prefix}{result.error}\n")
        line = render_result(result, fmt)
        if line is None:
            continue
        if to_file:
            collected.append(line)
        else:
            stdout.write(line + "\n")
    if progress is not None and seen < len(items):
        ui.stderr.write("\n")  # the bar stopped early (--fail-fast)
    stdout.flush()
    if to_file:
        from pystep.cli.token_cmd import emit

        emit(args, "\n".join(collected) + ("\n" if collected else ""), ui)
    if failed:
        ui.notify(f"{failed} of {len(items)} lines failed")
        return 1
    return 0
