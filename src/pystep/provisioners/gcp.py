"""GCP provisioners: the token is Google's own instance identity token (RS256), fetched
from the metadata server with the CA's sign audience (``<ca>/1.0/sign#gcp/<name>``).

Base URL: ``ctx.extra["gcp_metadata_url"]``, ``$PYSTEP_GCP_METADATA_URL`` or
``http://metadata``."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from pystep.errors import ProvisionerError
from pystep.provisioners._cloud import (
    body_excerpt,
    metadata_base,
    metadata_request,
    sign_audience,
)
from pystep.provisioners.base import MintContext, ProvisionerRecord
from pystep.request import TokenRequest

IDENTITY_PATH = "/computeMetadata/v1/instance/service-accounts/default/identity"


def identity_url(base: str, audience: str) -> str:
    query = urllib.parse.urlencode(
        [("audience", audience), ("format", "full"), ("licenses", "FALSE")]
    )
    return f"{base}{IDENTITY_PATH}?{query}"


@dataclass
class GCPMinter:
    record: ProvisionerRecord
    url: str

    def mint(self, req: TokenRequest) -> str:
        resp = metadata_request(
            "GET", self.url, {"Metadata-Flavor": "Google"},
            cloud="GCP", question="are you in a GCP VM?",
        )
        if not resp.ok:
            raise ProvisionerError(
                f"error on identity request: status={resp.status}, response={body_excerpt(resp)}"
            )
        token = resp.text().strip()
        if not token:
            raise ProvisionerError("error on identity request: empty response")
        return token


def prepare(record: ProvisionerRecord, ctx: MintContext) -> GCPMinter:
    base = metadata_base(ctx, "gcp_metadata_url", "PYSTEP_GCP_METADATA_URL", "http://metadata")
    audience = sign_audience(ctx, f"gcp/{record.name}")
    return GCPMinter(record=record, url=identity_url(base, audience))
