"""A scripted browser for the provider's pages: a cookie jar, redirects followed by hand
(so a test can stop at, or tamper with, the redirect to our loopback listener) and the
HTML forms of oidc-provider's devInteractions and device-flow pages submitted as a user
would. Only the standard library is used."""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    form_id: str | None = None
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (name, value) submitters


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self._current: Form | None = None
        self._href: str | None = None
        self._orphans: list[tuple[str | None, str, str]] = []  # buttons with form=...

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(a.get("action", ""), a.get("method", "get").lower(),
                                 form_id=a.get("id"))
            self.forms.append(self._current)
        elif tag == "input" and a.get("name"):
            owner = self._owner(a)
            if owner is not None and a.get("type") != "submit":
                owner.fields[a["name"]] = a.get("value", "")
        elif tag == "button" and a.get("name"):
            if "form" in a:
                self._orphans.append((a["form"], a["name"], a.get("value", "")))
            elif self._current is not None:
                self._current.buttons.append((a["name"], a.get("value", "")))
        elif tag == "a":
            self._href = a.get("href", "")

    def handle_data(self, data: str) -> None:
        if self._href is not None and data.strip():
            self.links.append((self._href, data.strip()))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "a":
            self._href = None

    def _owner(self, a: dict[str, str]) -> Form | None:
        if "form" in a:
            return next((f for f in self.forms if f.form_id == a["form"]), None)
        return self._current

    def close(self) -> None:
        super().close()
        for form_id, name, value in self._orphans:
            for f in self.forms:
                if f.form_id == form_id:
                    f.buttons.append((name, value))


@dataclass
class Page:
    url: str
    status: int
    html: str
    forms: list[Form]
    links: list[tuple[str, str]]

    def form(self, contains: str = "") -> Form:
        for f in self.forms:
            if contains in f.action or contains == (f.form_id or ""):
                return f
        raise AssertionError(f"no form matching {contains!r} on {self.url}: {self.html[:400]}")

    def prompt_form(self, prompt: str) -> Form | None:
        """The devInteractions form whose hidden ``prompt`` is ``login`` or ``consent``."""
        return next((f for f in self.forms if f.fields.get("prompt") == prompt), None)

    def link(self, text: str) -> str:
        for href, label in self.links:
            if text in label:
                return urllib.parse.urljoin(self.url, href)
        raise AssertionError(f"no link {text!r} on {self.url}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    def __init__(self, stop_at: str | None = None) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(self.jar),
            _NoRedirect(),
        )
        self.stop_at = stop_at  # do not follow redirects to URLs starting with this
        self.stopped_at: str | None = None
        self.history: list[str] = []

    def _fetch(self, url: str, data: bytes | None) -> tuple[int, str, str | None]:
        req = urllib.request.Request(url, data=data)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, resp.read().decode("utf-8", "replace"), None
        except urllib.error.HTTPError as err:
            body = err.read().decode("utf-8", "replace")
            return err.code, body, err.headers.get("Location")

    def go(self, url: str, data: bytes | None = None) -> Page:
        for _ in range(20):
            self.history.append(url)
            status, body, location = self._fetch(url, data)
            if status in (301, 302, 303, 307, 308) and location:
                nxt = urllib.parse.urljoin(url, location)
                if self.stop_at and nxt.startswith(self.stop_at):
                    self.stopped_at = nxt
                    return Page(nxt, status, "", [], [])
                url, data = nxt, None
                continue
            parser = _PageParser()
            parser.feed(body)
            parser.close()
            page = Page(url, status, body, parser.forms, parser.links)
            if "document.forms[0].submit()" in body and parser.forms:
                # the provider's "Submitting Callback" page: a browser's script posts it
                form = parser.forms[0]
                url = urllib.parse.urljoin(url, form.action or url)
                data = urllib.parse.urlencode(form.fields).encode("ascii")
                continue
            return page
        raise AssertionError("too many redirects")

    def submit(self, page: Page, form: Form, values: dict[str, str] | None = None,
               button: tuple[str, str] | None = None) -> Page:
        fields = dict(form.fields)
        fields.update(values or {})
        if button is not None:
            fields[button[0]] = button[1]
        target = urllib.parse.urljoin(page.url, form.action or page.url)
        data = urllib.parse.urlencode(fields).encode("ascii")
        if form.method == "get":
            return self.go(f"{target}?{data.decode()}")
        return self.go(target, data)

    # The provider's devInteractions, as a user clicks through them.
    def login_and_consent(self, page: Page, login: str = "alice", consent: bool = True) -> Page:
        form = page.prompt_form("login")
        assert form is not None, f"no login form on {page.url}: {page.html[:300]}"
        page = self.submit(page, form, {"login": login, "password": "any"})
        if not consent:
            return self.go(page.link("Cancel"))
        form = page.prompt_form("consent")
        if form is not None:
            page = self.submit(page, form)
        return page
