"""Azure provisioners: the token is a managed-identity access token from the VM's IMDS.

The resource (audience) follows the VM's cloud: ``azEnvironment`` is asked first and mapped
to that cloud's management URL (public cloud when unknown). The provisioner's own
``audience`` field is a CA-side check and not sent.

Base URL: ``ctx.extra["azure_metadata_url"]``, ``$PYSTEP_AZURE_METADATA_URL`` or
``http://169.254.169.254``."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from pystep.errors import ProvisionerError
from pystep.provisioners._cloud import body_excerpt, metadata_base, metadata_request
from pystep.provisioners.base import MintContext, ProvisionerRecord
from pystep.request import TokenRequest

ENVIRONMENT_PATH = "/metadata/instance/compute/azEnvironment?api-version=2021-02-01&format=text"
TOKEN_PATH = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
PUBLIC_RESOURCE = "https://management.azure.com/"
RESOURCES = {
    "azurepubliccloud": PUBLIC_RESOURCE,
    "azurecloud": PUBLIC_RESOURCE,
    "azureusgovernmentcloud": "https://management.usgovcloudapi.net/",
    "azureusgovernment": "https://management.usgovcloudapi.net/",
    "azurechinacloud": "https://management.chinacloudapi.cn/",
    "azuregermancloud": "https://management.microsoftazure.de/",
}
_QUESTION = "are you in an Azure VM?"


def resource_for(environment: str) -> str:
    """The management resource URL of an Azure cloud (public cloud when unknown)."""
    return RESOURCES.get(environment.strip().lower(), PUBLIC_RESOURCE)


@dataclass
class AzureMinter:
    record: ProvisionerRecord
    base: str

    def _environment(self) -> str:
        resp = metadata_request(
            "GET", self.base + ENVIRONMENT_PATH, {"Metadata": "true"},
            cloud="Azure", question=_QUESTION,
        )
        return resp.text() if resp.ok else ""

    def mint(self, req: TokenRequest) -> str:
        resource = resource_for(self._environment())
        url = self.base + TOKEN_PATH + urllib.parse.quote(resource, safe="")
        resp = metadata_request("GET", url, {"Metadata": "true"}, cloud="Azure",
                                question=_QUESTION)
        if not resp.ok:
            raise ProvisionerError(
                f"error getting identity token: status={resp.status}, "
                f"response={body_excerpt(resp)}"
            )
        try:
            body = resp.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProvisionerError("error unmarshaling identity token response") from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ProvisionerError("error getting identity token: no access_token in response")
        return token


def prepare(record: ProvisionerRecord, ctx: MintContext) -> AzureMinter:
    base = metadata_base(
        ctx, "azure_metadata_url", "PYSTEP_AZURE_METADATA_URL", "http://169.254.169.254"
    )
    return AzureMinter(record=record, base=base)
