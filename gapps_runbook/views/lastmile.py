"""Pure renderers of step 04's last mile: where the token file is, how the application loads it, the proof
from real data, the summary for the ticket, and a hand-off's outcome.

Like :mod:`.render` (kept apart so that module stays small): no I/O, no ipywidgets, no runbook call, and
no secret in any line: the summary names the token by its id (a fingerprint) and never holds the
access token, the refresh token or the client secret. ``gapps-runbook status --summary`` and 04's
"Copy summary for the ticket" print the same :func:`summary_lines`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..oauth.clock import utc_text
from ..oauth.endpoints import GOOGLE
from ..oauth.scope_catalog import SERVICES, scope_name
from ..profile.files import HOME_ENV
from ..steps import AUTHORIZE

if TYPE_CHECKING:
    from ..oauth.verify import VerifyReport
    from ..profile.handoff import HandoffResult
    from ..runbook.state import SiteState


def shown_path(path: Path) -> str:
    """A profile path as a person types it: under ``$GAPPS_RUNBOOK_HOME`` when that is set, else ``~/...``."""
    home = os.environ.get(HOME_ENV, "").strip()
    text = str(path)
    if home:
        root = str(Path(home).expanduser())
        if text == root or text.startswith(root.rstrip("/") + "/"):
            return f"${HOME_ENV}" + text[len(root.rstrip("/")):]
    user = str(Path.home())
    if user not in ("", "/") and text.startswith(user.rstrip("/") + "/"):
        return "~" + text[len(user.rstrip("/")):]
    return text


def token_file_lines(profile: str, path: Path, *, plain: bool = False) -> list[str]:
    """Where the token file is and how the application loads it (google-auth ``authorized_user``).

    Args:
        profile: The profile's name.
        path: The token file.
        plain: For a page with no code (the app): the real path and plain words, no Python, no variable, no
            command (the page's own "Hand off to" does it). Else (a notebook, the CLI) the path as a person
            types it (:func:`shown_path`) and the call that loads it
            (https://googleapis.dev/python/google-auth/latest/reference/google.oauth2.credentials.html).
    """
    if plain:
        return [f"Token file: {path} (readable by you only)",
                "The application loads it as Google's \"authorized user\" credentials file, the format Google's "
                "client libraries read.",
                "To put a copy where the application reads it, fill in \"Hand off to\" below."]
    return [
        f"Token file: {shown_path(path)} (google-auth authorized_user JSON, 0600)",
        "The application loads it with google.oauth2.credentials.Credentials.from_authorized_user_file(PATH)",
        f"Hand it over where the application reads it: gapps-runbook handoff {profile} --to /etc/app/google-token.json",
    ]


def proof_lines(report: VerifyReport) -> list[str]:
    """Proof from real data: per service that was read, how many entries (and the primary one's name)."""
    lines = []
    for check in report.checks:
        sample = check.sample
        service = SERVICES.get(check.api)
        if not sample or service is None:
            continue
        total = sample.get("total")
        count = total if isinstance(total, int) else f"{sample.get('count')}{'+' if sample.get('more') else ''}"
        named = ""
        if "primary" in sample:
            primary = sample["primary"]
            named = f"; the primary one is {primary!r}" if primary else "; none is marked primary"
        lines.append(f"Proof from real data: {count} {service.noun} in the account{named}")
    return lines


def summary_lines(state: SiteState) -> list[str]:
    """The plain-text summary for the ticket: profile, issuer, client, token id, expiry, health, scopes,
    every step's verdict, account; read from the site's state (no secret)."""
    st = state.token
    if st.token_id is None:
        token = [f"Token: none (authorize in {AUTHORIZE.ref})"]
    else:
        left = st.expires_in or 0
        token = [f"Token id: {st.token_id}",
                 f"Access token expires: {utc_text(state.taken_at + left)} (in {left} s)",
                 f"Refresh token: {'yes' if st.has_refresh_token else 'no'}",
                 f"Usable: {'yes' if state.usable else 'no'} ({state.health.detail})",
                 f"Scopes: {' '.join(map(scope_name, st.scopes)) or '(none)'}"]
        if st.missing_scopes:
            token.append(f"Requested, NOT granted: {' '.join(map(scope_name, st.missing_scopes))}")
    steps = [f"Step {s.line}" for s in state.steps]
    return [f"gapps-runbook summary for profile {st.profile} (taken {utc_text(state.taken_at)})",
            f"Issuer: {state.issuer or GOOGLE.issuer}", f"Client ID: {st.client_id or '(none)'}", *token, *steps,
            f"Account: {st.account or 'unknown'}"]


def handoff_lines(result: HandoffResult) -> list[str]:
    """What a hand-off wrote and proved."""
    lines = [f"Wrote {result.path} (0600, {result.fmt}).", f"{result.proof_line}."]
    return lines + [f"Note: {note}." for note in result.notes]
