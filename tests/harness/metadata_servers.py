"""Local stand-ins for the cloud instance metadata services, speaking their documented
protocols (methods, paths, headers) on 127.0.0.1. Cloud services cannot run here; these
are the HTTP boundary only."""

from __future__ import annotations

import http.server
import json
import secrets
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case


@dataclass
class IMDS:
    """EC2 IMDS. ``v1``/``v2`` say which versions the instance accepts."""

    document: bytes = b"{}"
    signature_b64: bytes = b""
    v1: bool = True
    v2: bool = True
    delay: float = 0.0
    status_override: int | None = None
    gcp_token: str = "gcp.jwt.token"
    azure_environment: str = "AzurePublicCloud"
    requests: list[Seen] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)


def _handler(state: IMDS) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _record(self) -> urllib.parse.SplitResult:
            state.requests.append(
                Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
            )
            if state.delay:
                time.sleep(state.delay)
            return urllib.parse.urlsplit(self.path)

        def do_PUT(self) -> None:
            url = self._record()
            if url.path != "/latest/api/token":
                return self._send(404, b"")
            if not state.v2:
                return self._send(403, b"")
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
            if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self._send(400, b"")
            token = secrets.token_urlsafe(32)
            state.tokens.add(token)
            self._send(200, token.encode())

        def do_GET(self) -> None:
            url = self._record()
            if state.status_override is not None:
                return self._send(state.status_override, b"denied by test")
            if url.path.startswith("/latest/"):
                return self._aws(url.path)
            if url.path.startswith("/computeMetadata/"):
                return self._gcp(url)
            if url.path.startswith("/metadata/"):
                return self._azure(url)
            self._send(404, b"")

        def _aws(self, path: str) -> None:
            token = self.headers.get("X-aws-ec2-metadata-token")
            if token is not None:
                if token not in state.tokens:
                    return self._send(401, b"")
            elif not state.v1:
                return self._send(401, b"")
            if path == "/latest/dynamic/instance-identity/document":
                return self._send(200, state.document, "application/json")
            if path == "/latest/dynamic/instance-identity/signature":
                return self._send(200, state.signature_b64)
            self._send(404, b"")

        def _gcp(self, url: urllib.parse.SplitResult) -> None:
            if self.headers.get("Metadata-Flavor") != "Google":
                return self._send(403, b"Missing Metadata-Flavor:Google header.")
            if url.path != "/computeMetadata/v1/instance/service-accounts/default/identity":
                return self._send(404, b"")
            q = urllib.parse.parse_qs(url.query)
            if "audience" not in q:
                return self._send(400, b"non-empty audience parameter required")
            self._send(200, state.gcp_token.encode() + b"\n")

        def _azure(self, url: urllib.parse.SplitResult) -> None:
            if self.headers.get("Metadata", "").lower() != "true":
                err = b'{"error":"Bad request. Required metadata header not specified"}'
                return self._send(400, err)
            q = urllib.parse.parse_qs(url.query)
            if url.path == "/metadata/instance/compute/azEnvironment":
                return self._send(200, state.azure_environment.encode())
            if url.path == "/metadata/identity/oauth2/token":
                resource = q.get("resource", [""])[0]
                body = {"access_token": f"azure-token-for:{resource}", "token_type": "Bearer",
                        "resource": resource}
                return self._send(200, json.dumps(body).encode(), "application/json")
            self._send(404, b"")

    return Handler


@contextmanager
def serve(state: IMDS) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
