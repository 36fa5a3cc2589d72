"""Skip or fail when a tool or package a test needs is missing.

On a developer machine a missing tool (``softhsm2-util``, ``nebula-cert``…) or optional
package skips the tests that need it. On CI (``CI=true``, as GitHub Actions and most CI
services set it) the same absence is an error: CI installs everything, so a skip there
would hide a broken set-up behind a green run. The only tests that may be skipped on CI
are hardware ones, and those are not skipped but deselected (marker ``hardware``,
``-m "not hardware"`` in pyproject's addopts; run them with ``pytest -m hardware``).
"""

from __future__ import annotations

import importlib
import os
import shutil
from types import ModuleType

import pytest


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def missing_tools(*tools: str) -> list[str]:
    return [t for t in tools if shutil.which(t) is None]


def unavailable(what: str, *, module_level: bool = False) -> None:
    """Skip with ``what`` as the reason; on CI fail with it."""
    if on_ci():
        pytest.fail(f"CI=true and {what}", pytrace=False)
    pytest.skip(what, allow_module_level=module_level)


def require_tools(*tools: str, why: str = "", module_level: bool = False) -> None:
    """Skip (fail on CI) unless every tool is on PATH. ``module_level`` at import time."""
    absent = missing_tools(*tools)
    if absent:
        unavailable(f"not installed: {', '.join(absent)}{f' ({why})' if why else ''}",
                module_level=module_level)  # fmt: skip


def require_file(path: str | None, what: str, *, module_level: bool = False) -> None:
    if path is None or not os.path.exists(path):
        unavailable(f"not installed: {what}", module_level=module_level)


def require_module(name: str, *, module_level: bool = False) -> ModuleType:
    """``pytest.importorskip`` that fails on CI."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable(f"cannot import {name}: {exc}", module_level=module_level)
        raise  # unreachable: _absent raises


def tools_mark(*tools: str, why: str = "") -> pytest.MarkDecorator:
    """A ``skipif`` for tests that need ``tools``; on CI a missing tool fails the
    collection of the module instead (with the reason)."""
    absent = missing_tools(*tools)
    reason = f"not installed: {', '.join(absent)}{f' ({why})' if why else ''}"
    if absent and on_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    return pytest.mark.skipif(bool(absent), reason=reason)
