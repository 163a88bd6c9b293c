"""The two pages a person uses: the loopback consent page and the device verification page.

``/o/oauth2/v2/auth`` (the installed-app guide; RFC 8252): GET validates and shows consent, POST answers it
with a 302 to the loopback ``redirect_uri``; the 302 comes at once with ``auto_approve`` or when the
emulator's scenario decides (``deny``: ``access_denied``; ``pending:N``: a code). ``/device``
(the device-flow guide's ``verification_url``): type the user code (exact case, dash optional), then Allow or
Deny as an account of your choice.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from ..errors import OAuthError
from . import facts, pages
from .served import ServedEmulator

AUTH_PATH = "/o/oauth2/v2/auth"
DEVICE_PATH = "/device"
_DETAILS = ("response_type", "redirect_uri", "scope", "access_type")


def _redirect(url: str) -> Response:
    return Response("", status=302, headers={"Location": url, **pages.NO_STORE})


def _account(value: str | None) -> str | None:
    """The account typed on a consent page, or None if it is not an email address."""
    account = (value or "").strip()
    return account if "@" in account and len(account) <= 254 and " " not in account else None


def authorize_page(emulator: ServedEmulator, request: Request) -> Response:
    """GET: validate the authorization request; POST: the user's Allow or Deny."""
    if request.method == "POST":
        return _answer_consent(emulator, request)
    params = {key: request.args.get(key, "") for key in request.args.keys()}
    try:
        consent, client = emulator.code.start(params)
    except OAuthError as error:
        details = {k: params[k] for k in _DETAILS if params.get(k)}
        return pages.oauth_error_page(error, details)
    scenario = emulator.scenario  # the practice scenario: the user "clicks" at once
    if scenario.deny:
        return _redirect(emulator.code.finish(consent.consent_id, approve=False))
    if emulator.auto_approve or scenario.decides:
        return _redirect(emulator.code.finish(consent.consent_id, approve=True, account=scenario.approve_as))
    return pages.consent_form(
        product=client.product_name,
        account=consent.login_hint or emulator.account,
        scopes=facts.granted_scopes(consent.scopes),
        action=AUTH_PATH,
        hidden={"consent_id": consent.consent_id},
        testing=emulator.publishing_status == "testing",
    )


def _answer_consent(emulator: ServedEmulator, request: Request) -> Response:
    action = request.form.get("action", "")
    consent_id = request.form.get("consent_id", "")
    if action not in ("allow", "deny") or emulator.code.consent(consent_id) is None:
        return pages.message_page("This request is no longer valid", "Start signing in again from the app.", status=400)
    account = _account(request.form.get("account")) if action == "allow" else None
    if action == "allow" and account is None:
        return pages.message_page("Enter an email address", "Go back and type the account to approve as.", 400)
    try:
        url = emulator.code.finish(consent_id, approve=action == "allow", account=account)
    except KeyError:
        return pages.message_page("This request is no longer valid", "Start signing in again from the app.", 400)
    return _redirect(url)


def device_page(emulator: ServedEmulator, request: Request) -> Response:
    """GET: the code form; POST: check the code and show consent, or record the decision."""
    if request.method == "GET":
        return pages.device_code_form(user_code=request.args.get("user_code", "")[:40])
    if "action" in request.form:
        return _answer_device(emulator, request)
    typed = request.form.get("user_code", "")
    status, session = emulator.device.lookup(typed)
    if session is None or status != "pending":
        message = {
            "unknown": "Invalid code. Check the code on your device and try again (it is case-sensitive).",
            "expired": "That code has expired. Get a new code on your device and try again.",
        }.get(status, "That code was already used. Get a new code on your device and try again.")
        return pages.device_code_form(message=message, user_code=typed[:40], status=400)
    client = emulator.state.clients.get(session.client_id)
    return pages.consent_form(
        product=client.product_name if client else "",
        account=session.scenario.approve_as or emulator.account,
        scopes=facts.granted_scopes(session.scopes),
        action=DEVICE_PATH,
        hidden={"user_code": session.user_code},
        testing=emulator.publishing_status == "testing",
    )


def _answer_device(emulator: ServedEmulator, request: Request) -> Response:
    action = request.form.get("action", "")
    user_code = request.form.get("user_code", "")
    if action not in ("allow", "deny"):
        return pages.device_code_form(message="Choose Allow or Deny.", status=400)
    account = _account(request.form.get("account")) if action == "allow" else None
    if action == "allow" and account is None:
        return pages.message_page("Enter an email address", "Go back and type the account to approve as.", 400)
    try:
        session = emulator.device.decide(user_code, approve=action == "allow", account=account)
    except KeyError:
        return pages.device_code_form(message="Invalid code. Start again on your device.", status=400)
    except ValueError:
        return pages.device_code_form(message="That code has expired or was already used.", status=400)
    client = emulator.state.clients.get(session.client_id)
    product = (client.product_name if client else "") or "the app"
    if action == "deny":
        return pages.message_page("Access denied", f"You denied access to {product}. You can close this window.")
    return pages.message_page(
        "Success!", f"You've signed in to {product} as {account}. You can close this window and return to your device."
    )
