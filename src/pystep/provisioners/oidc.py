"""OIDC provisioners: the token is the identity provider's own ``id_token``.

step re-executes itself as ``step oauth --oidc --bare``; pystep signs in in-process
(:mod:`pystep.oauth`). The request's subject, SANs and validity are not used: the CA takes
the identity from the id_token.

Knobs, from ``MintContext`` (resolved by the caller, e.g. the CLI):

* ``ctx.credentials.console`` — device flow instead of the browser;
* ``ctx.extra["notify"]`` — ``Callable[[str], None]`` that shows the sign-in URL / user code
  to the user (the CLI writes to stderr). Without one, lines go to the ``pystep.oauth``
  logger at WARNING level (Python's last-resort handler prints them to stderr);
* ``ctx.extra["open_browser"]`` — ``Callable[[str], object]`` replacing
  :func:`webbrowser.open` (return truthy when a browser was opened);
  without one, ``STEP_OPEN_BROWSER=0`` (env or ``ctx.extra["open_browser_env"]``)
  disables opening (the URL is still shown);
* ``ctx.extra["listen"]`` — the ``STEP_LISTEN`` value (else the environment's), which
  overrides the provisioner's ``listenAddress``;
* ``ctx.extra["oauth_timeout"]`` — seconds to wait for the browser redirect (default 120).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass

from pystep import oauth
from pystep.errors import ProvisionerError
from pystep.provisioners.base import MintContext, ProvisionerRecord
from pystep.request import TokenRequest

_log = logging.getLogger("pystep.oauth")


def _log_notify(line: str) -> None:
    _log.warning("%s", line)


def _default_opener(url: str) -> bool:
    import webbrowser

    try:
        return webbrowser.open(url)
    except (webbrowser.Error, OSError):  # no browser here: the URL is still shown
        return False


@dataclass
class OIDCMinter:
    record: ProvisionerRecord
    metadata: oauth.ProviderMetadata
    client: oauth.ClientConfig
    console: bool
    notify: oauth.Notify
    open_browser: oauth.OpenBrowser | None
    listen: str | None
    timeout: float

    def mint(self, req: TokenRequest) -> str:
        """Run one sign-in and return the id_token (a fresh nonce each time)."""
        if self.console:
            return oauth.device_flow(self.metadata, self.client, notify=self.notify)
        return oauth.loopback_flow(
            self.metadata,
            self.client,
            notify=self.notify,
            open_browser=self.open_browser,
            listen=self.listen,
            timeout=self.timeout,
        )


def _str_list(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProvisionerError(f"invalid OIDC provisioner: '{field}' must be a list of strings")
    return tuple(value)


def client_config(record: ProvisionerRecord) -> oauth.ClientConfig:
    raw = record.raw
    client_id = raw.get("clientID")
    if not isinstance(client_id, str) or not client_id:
        raise ProvisionerError(f"invalid OIDC provisioner '{record.name}': missing clientID")
    secret = raw.get("clientSecret", "")
    return oauth.ClientConfig(
        client_id=client_id,
        client_secret=secret if isinstance(secret, str) else "",
        scopes=_str_list(raw.get("scopes"), "scopes"),
        auth_params=oauth.parse_auth_params(_str_list(raw.get("authParams"), "authParams")),
    )


def prepare(record: ProvisionerRecord, ctx: MintContext) -> OIDCMinter:
    """Discover the provider once; each ``mint`` then runs one sign-in."""
    endpoint = record.raw.get("configurationEndpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise ProvisionerError(
            f"invalid OIDC provisioner '{record.name}': missing configurationEndpoint"
        )
    client = client_config(record)
    console = ctx.credentials.console
    metadata = oauth.discover(endpoint, device=console)

    extra = ctx.extra
    notify: oauth.Notify = extra.get("notify") or _log_notify
    env_open = extra.get("open_browser_env", os.environ.get("STEP_OPEN_BROWSER"))
    opener: Callable[[str], object] | None = extra.get("open_browser")
    if opener is None and str(env_open).lower() not in ("0", "false"):
        opener = _default_opener
    listen = extra.get("listen") or os.environ.get("STEP_LISTEN") or None
    if listen is None:
        addr = record.raw.get("listenAddress")
        listen = addr if isinstance(addr, str) and addr else None
    return OIDCMinter(
        record=record,
        metadata=metadata,
        client=client,
        console=console,
        notify=notify,
        open_browser=opener,
        listen=listen,
        timeout=float(extra.get("oauth_timeout", oauth.LOOPBACK_TIMEOUT)),
    )
