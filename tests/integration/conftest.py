"""One real step-ca 0.19 per test session (see tests/harness/stepca.py).

No step-ca binary: the integration tests are skipped with a message saying how
to enable them, except on CI (CI=true), where the session stops with an error.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.stepca import (
    HOW_TO_ENABLE,
    StepCA,
    StepCAError,
    find_step_ca_binary,
    start_step_ca,
)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/integration/ carries the `integration` marker."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


def _no_ca(reason: str) -> None:
    message = (
        f"integration tests need a real step-ca 0.19: {reason}; to enable them, {HOW_TO_ENABLE}"
    )
    if os.environ.get("CI") == "true":
        pytest.exit(f"CI=true and {message}", returncode=3)
    pytest.skip(message)


@pytest.fixture(scope="session")
def step_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StepCA]:
    """The session's running test CA (url, root_path, provisioners, HTTP helpers, ...)."""
    try:
        binary = find_step_ca_binary()
    except StepCAError as err:
        pytest.exit(f"cannot use the step-ca binary: {err}", returncode=3)
    if binary is None:
        _no_ca("no step-ca binary found")
    assert binary is not None
    ca = start_step_ca(tmp_path_factory.mktemp("step-ca"), binary=binary)
    try:
        yield ca
    finally:
        ca.stop()
