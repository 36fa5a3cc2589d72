"""What the cloud identity provisioners (AWS, GCP, Azure) share: the sign audience and
short, clearly-worded requests to an instance metadata service."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping

from pystep import _http
from pystep.errors import ProvisionerError
from pystep.provisioners.base import MintContext

METADATA_TIMEOUT = 2.0  # a metadata service answers at once, or is not there
_FRAGMENT_SAFE = "$&+,/:;=?@!()*"  # with quote's own "_.-~": Go's fragment escaping


def sign_audience(ctx: MintContext, provisioner_id: str) -> str:
    """``<ca>/1.0/sign#<id>``: the CA URL resolved to ``/1.0/sign`` (online and offline,
    as step does), the fragment URL-escaped (a space becomes ``%20``)."""
    parts = urllib.parse.urlsplit(ctx.audience.base_url)
    fragment = urllib.parse.quote(provisioner_id, safe=_FRAGMENT_SAFE)
    return f"{parts.scheme}://{parts.netloc}/1.0/sign#{fragment}"


def metadata_base(ctx: MintContext, key: str, env: str, default: str) -> str:
    """The metadata service base URL: ``ctx.extra[key]``, else ``$env``, else the default."""
    value = ctx.extra.get(key) or os.environ.get(env) or default
    return str(value).rstrip("/")


def metadata_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    *,
    cloud: str,
    question: str,
    timeout: float = METADATA_TIMEOUT,
) -> _http.HTTPResponse:
    """One request to the metadata service; no answer → an error a user can act on."""
    try:
        return _http.request(method, url, headers=headers, timeout=timeout, data=None)
    except _http.HTTPTransportError as exc:
        host = urllib.parse.urlsplit(url).netloc
        if exc.reason == "timeout":
            what = f"the instance metadata service at {host} did not answer in {timeout:g}s"
        elif exc.reason in ("refused", "dns"):
            what = f"no instance metadata service at {host}"
        else:
            what = f"cannot reach the instance metadata service at {host}: {exc}"
        raise ProvisionerError(f"{what}: {question}", hint=f"{cloud} identity tokens are "
                               "only available on the cloud instance itself") from exc


def body_excerpt(resp: _http.HTTPResponse, limit: int = 200) -> str:
    text = resp.text().strip()
    return text if len(text) <= limit else text[:limit] + "…"
