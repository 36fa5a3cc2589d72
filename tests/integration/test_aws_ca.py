"""AWS end to end: the real ``pystep ca token`` reads an instance identity document from a
local IMDS (tests/harness/metadata_servers.py, IMDSv2 protocol) and the real step-ca 0.19
verifies it against the provisioner's ``iidRoots`` (a test certificate whose key signed
the document, tests/harness/extras/aws.py) and signs a certificate.

Only the metadata service is a stand-in (EC2 cannot run here); the token, the document
signature check and the certificate come from pystep and step-ca themselves.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import RunPystep
from tests.harness.extras import aws as extra
from tests.harness.metadata_servers import IMDS, serve
from tests.harness.stepca import StepCA
from tests.integration.test_x5c import _fails, claims_of, ok_token

DOC = extra.DOCUMENT
IP = DOC["privateIp"]


@pytest.fixture(scope="module")
def imds(step_ca: StepCA) -> Iterator[tuple[IMDS, str]]:
    doc = extra.document_bytes()
    state = IMDS(document=doc, signature_b64=extra.sign_document(step_ca.workdir, doc))
    with serve(state) as url:
        yield state, url


def aws_token(
    run_pystep: RunPystep, step_ca: StepCA, metadata_url: str, subject: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return run_pystep(
        "ca", "token", subject, *args, "--ca-url", step_ca.url, "--root", step_ca.root_path,
        env={"STEPPATH": str(step_ca.steppath), "PYSTEP_AWS_METADATA_URL": metadata_url},
    )


def test_custom_sans_signed_by_the_ca(
    step_ca: StepCA, run_pystep: RunPystep, imds: tuple[IMDS, str]
) -> None:
    state, url = imds
    before = len(state.requests)
    subject = "web.pystep.test"
    token = ok_token(aws_token(run_pystep, step_ca, url, subject, "--provisioner", extra.NAME))
    header, claims = claims_of(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    assert claims["iss"] == "ec2.amazonaws.com" and claims["sub"] == subject
    assert claims["aud"] == f"{step_ca.url}/1.0/sign#aws/{extra.NAME}"
    # IMDSv2: a session token first, then the document and signature with it
    seen = [(r.method, r.path) for r in state.requests[before:]]
    assert seen[0] == ("PUT", "/latest/api/token")
    assert ("GET", "/latest/dynamic/instance-identity/document") in seen

    result = step_ca.sign(token, subject, [subject, IP])
    assert result.status == 201, result.body
    assert result.common_name == subject
    assert sorted(result.sans) == sorted([subject, IP])  # the CSR's, as the IID template says


def test_csr_common_name_must_be_the_subject(
    step_ca: StepCA, run_pystep: RunPystep, imds: tuple[IMDS, str]
) -> None:
    token = ok_token(aws_token(run_pystep, step_ca, imds[1], "one.pystep.test",
                               "--provisioner", extra.NAME))  # fmt: skip
    result = step_ca.sign(token, "other.pystep.test")
    assert result.status in (400, 401, 403), result.body
    assert result.certificate is None


def test_disable_custom_sans_fixes_the_names(
    step_ca: StepCA, run_pystep: RunPystep, imds: tuple[IMDS, str]
) -> None:
    dns = extra.INTERNAL_DNS
    token = ok_token(aws_token(run_pystep, step_ca, imds[1], dns, "--provisioner", extra.FIXED))
    assert claims_of(token)[1]["aud"] == f"{step_ca.url}/1.0/sign#aws/{extra.FIXED}"
    result = step_ca.sign(token, dns, [dns, IP])
    assert result.status == 201, result.body
    assert result.common_name == dns and sorted(result.sans) == sorted([dns, IP])


def test_disable_custom_sans_refuses_other_subjects(
    step_ca: StepCA, run_pystep: RunPystep, imds: tuple[IMDS, str]
) -> None:
    name = "web.pystep.test"
    token = ok_token(aws_token(run_pystep, step_ca, imds[1], name, "--provisioner", extra.FIXED))
    result = step_ca.sign(token, name, [name])
    assert result.status == 401, result.body


def test_document_not_signed_by_the_roots_is_refused_by_pystep(
    step_ca: StepCA, run_pystep: RunPystep
) -> None:
    doc = extra.document_bytes()
    forged = extra.document_bytes(accountId="999999999999")  # signature of another document
    state = IMDS(document=forged, signature_b64=extra.sign_document(step_ca.workdir, doc))
    with serve(state) as url:
        proc = aws_token(run_pystep, step_ca, url, "x.pystep.test", "--provisioner", extra.NAME)
    _fails(proc, "error validating identity document signature")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_no_metadata_service_fails_fast(step_ca: StepCA, run_pystep: RunPystep) -> None:
    port = _closed_port()
    start = time.monotonic()
    proc = aws_token(run_pystep, step_ca, f"http://127.0.0.1:{port}", "x.pystep.test",
                     "--provisioner", extra.NAME)  # fmt: skip
    elapsed = time.monotonic() - start
    _fails(proc, f"no instance metadata service at 127.0.0.1:{port}", "EC2 instance")
    assert proc.returncode == 1
    assert elapsed < 15, elapsed  # python start-up + one refused connection, no retry loop
