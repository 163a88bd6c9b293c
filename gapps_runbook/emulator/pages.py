"""HTML pages: the device verification page, the consent page, results and Google-like error pages.

Plain HTML forms that work in any browser without JavaScript (the device-flow guide's ``verification_url``,
the installed-app guide's loopback consent). Templates are ``templates/*.html`` filled with
:class:`string.Template`; every value is escaped with :func:`html.escape` first. Front-end errors mimic
Google's "Error 404 (Not Found)!!1" pages.
"""

from __future__ import annotations

import functools
import html
import string
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

from werkzeug.wrappers import Response

from ..errors import OAuthError
from . import facts

HTML_TYPE = "text/html; charset=utf-8"
NO_STORE = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"}
SCOPE_TEXT = {
    "openid": "Associate you with your personal info on Google",
    facts.USERINFO_EMAIL: "See your primary Google Account email address",
    facts.USERINFO_PROFILE: "See your personal info, including any personal info you've made publicly available",
    facts.AUTH + "calendar": "See, edit, share, and permanently delete all the calendars you can access",
    facts.AUTH + "calendar.readonly": "See and download any calendar you can access using your Google Calendar",
    facts.AUTH + "calendar.events.readonly": "View events on all your calendars",
    facts.AUTH + "calendar.events": "View and edit events on all your calendars",
    facts.AUTH + "gmail.readonly": "View your email messages and settings",
    "https://mail.google.com/": "Read, compose, send, and permanently delete all your email from Gmail",
    facts.AUTH + "contacts.readonly": "See and download your contacts",
    facts.AUTH + "drive.file": "See, edit, create, and delete only the Google Drive files you use with this app",
    facts.AUTH + "youtube.readonly": "View your YouTube account",
}
UNVERIFIED = (
    "<p class='warning'><b>Google hasn't verified this app.</b> The app is in Testing: only test users "
    "can approve it, and their authorization expires after 7 days.</p>"
)


@functools.cache
def _template(name: str) -> string.Template:
    text = resources.files(__package__).joinpath("templates").joinpath(name).read_text(encoding="utf-8")
    return string.Template(text)


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str, status: int = 200) -> Response:
    """A full page: ``body`` is trusted HTML (built here from escaped values)."""
    text = _template("layout.html").substitute(title=_e(title), body=body)
    return Response(text, status=status, content_type=HTML_TYPE, headers=NO_STORE)


def device_code_form(*, message: str = "", user_code: str = "", status: int = 200) -> Response:
    """The verification page: a field for the user code."""
    note = f"<p class='error'>{_e(message)}</p>" if message else ""
    body = _template("device_code.html").substitute(message=note, user_code=_e(user_code))
    return page("Connect a device - Google Accounts (emulator)", body, status)


def consent_form(
    *, product: str, account: str, scopes: Iterable[str], action: str, hidden: Mapping[str, str], testing: bool
) -> Response:
    """A consent page listing scopes and the account, with Allow and Deny."""
    items = "\n".join(f"<li>{_e(SCOPE_TEXT.get(s, s))} <small><code>{_e(s)}</code></small></li>" for s in scopes)
    fields = "\n".join(f'<input type="hidden" name="{_e(k)}" value="{_e(v)}">' for k, v in hidden.items())
    body = _template("consent.html").substitute(
        product=_e(product or "An app"),
        warning=UNVERIFIED if testing else "",
        action=_e(action),
        hidden=fields,
        account=_e(account),
        scopes=items,
    )
    return page("Sign in - Google Accounts (emulator)", body)


def message_page(heading: str, message: str, status: int = 200) -> Response:
    """A short result page (approved, denied, expired)."""
    body = _template("message.html").substitute(heading=_e(heading), message=_e(message))
    return page(heading, body, status)


def oauth_error_page(error: OAuthError, details: Mapping[str, str]) -> Response:
    """Google's "Access blocked" page for a bad authorization request; ``details`` are request values."""
    heading = "Access blocked: This app's request is invalid"
    if error.error == "invalid_client":
        heading = "Access blocked: Authorization Error"
    body = _template("error.html").substitute(
        heading=_e(heading),
        message=_e(error.description),
        status=_e(error.status),
        error=_e(error.error),
        details="<br>".join(f"{_e(k)}={_e(v)}" for k, v in details.items()),
    )
    return page("Error - Google Accounts (emulator)", body, error.status)


def front_end_error(status: int, reason: str, text: str) -> Response:
    """Google's front-end error page, e.g. "Error 404 (Not Found)!!1"; ``text`` is trusted HTML."""
    body = (
        "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n"
        f"  <title>Error {status} ({_e(reason)})!!1</title>\n"
        f"  <p><b>{status}.</b> <ins>That\u2019s an error.</ins>\n"
        f"  <p>{text}  <ins>That\u2019s all we know.</ins>\n"
    )
    return Response(body, status=status, content_type=HTML_TYPE)


def not_found(path: str) -> Response:
    """Google's 404 page."""
    return front_end_error(404, "Not Found", f"The requested URL <code>{_e(path)}</code> was not found on this server.")


def method_not_allowed(method: str, path: str, allowed: Iterable[str] = ()) -> Response:
    """Google's 405 page."""
    text = f"The request method <code>{_e(method)}</code> is inappropriate for the URL <code>{_e(path)}</code>."
    response = front_end_error(405, "Method Not Allowed", text)
    if allowed:
        response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


def landing_page(summary: Mapping[str, Any], settings: Sequence[tuple[str, str]]) -> Response:
    """The page at ``/``: where things are, the clients (never their secrets, but a link to each one's
    client JSON) and the practice settings.

    Args:
        summary: :func:`.landing.summary`'s mapping (the same one ``GET /`` answers as JSON).
        settings: (label, value) lines describing the practice settings.
    """
    clients = "\n".join(
        f"<li><b>{_e(c['product_name'] or 'no product name')}</b> ({_e(c['client_type_label'])})<br>"
        f"<code>{_e(c['client_id'])}</code>"
        + (f"<br>scripted: <code>{_e(c['scenario'])}</code>" if c.get("scenario") else "")
        + (f"<br><a href='{_e(c['client_json_url'])}' download>Download client JSON</a> "
           f"<small class='practice'>{_e(c['client_json_label'])}</small>" if c.get("client_json_url") else "")
        + "</li>"
        for c in summary["clients"]
    )
    lines = "\n".join(f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd>" for label, value in settings)
    body = _template("landing.html").substitute(
        issuer=_e(summary["issuer"]),
        discovery=_e(summary["discovery_url"]),
        verification=_e(summary["verification_url"]),
        how_to=_e(summary["how_to"]),
        clients=clients or "<li>none</li>",
        settings=lines,
    )
    return page("gapps-runbook emulator", body)
