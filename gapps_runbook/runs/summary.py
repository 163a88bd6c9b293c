"""What a headless run produced, read back from what the run recorded: result lines and the report's summary.

Everything here comes from the profile (its step records, its audit log, the stored token through
:func:`runbook.status`, a local read with no network call) and from the run's own outcome (which
step failed, with its fix line); nothing is assumed from the plan. No secret is read: the token id
is a fingerprint, and records hold no secret (:mod:`gapps_runbook.profile.audit`).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..oauth.clock import utc_text
from ..profile import audit

from ..steps import AUTHORIZE, STATUS

if TYPE_CHECKING:
    from ..errors import NotebookRunError
    from ..profile.store import Profile
    from ..runbook.state import SiteState

FLOW_LABELS = {
    "desktop": "Desktop app flow (loopback + PKCE)",
    "device": "Device flow (TVs and Limited Input devices)",
}


def open_profile(parameters: Mapping[str, object]) -> Profile:
    """The profile a run's ``profile`` and ``home`` parameters name."""
    from ..profile.store import ProfileStore

    home = str(parameters.get("home") or "") or None
    return ProfileStore(Path(home) if home else None).profile(str(parameters.get("profile") or "default"))


def site_state(profile: Profile) -> SiteState:
    """The profile's state (:func:`runbook.state.read`: local, no network call)."""
    from ..runbook import Site, state

    return state.read(Site(profile))


def authorized(profile: Profile) -> bool:
    """Whether step 03's verdict is ok (a run then asks a new authorization explicitly)."""
    return site_state(profile).of(AUTHORIZE).verdict == "ok"


@dataclass(frozen=True)
class TokenFacts:
    """The stored token as a run reports it: id (a fingerprint), expiry, account; ``token_id`` None: none."""

    token_id: str | None
    expiry: str
    account: str

    def text(self) -> str:
        """``Token id X, expires in N s (at 2026-12-01 00:41 UTC), account A.``, or that there is none."""
        if self.token_id is None:
            return f"No token yet (runbook step {AUTHORIZE.number})."
        return f"Token id {self.token_id}, {self.expiry}, account {self.account}."


def token_facts(current: SiteState) -> TokenFacts:
    """The state's token: id, expiry (in seconds and as UTC time) and health, account."""
    st = current.token
    if st.token_id is None:
        return TokenFacts(None, "", "")
    left = st.expires_in or 0
    expiry = "access token expired" if left <= 0 else f"expires in {left} s (at {utc_text(current.taken_at + left)})"
    if current.health.word != "ok":
        expiry += f", {'usable' if current.usable else 'NOT usable'}: {current.health.detail}"
    return TokenFacts(st.token_id, expiry, st.account or "unknown")


def token_text(profile: Profile) -> str:
    """:meth:`TokenFacts.text` of the profile's token."""
    return token_facts(site_state(profile)).text()


def verify_text(profile: Profile, since: float | None = None) -> str:
    """Step 04's verify verdict (it belongs to the token it checked), with its time; ``since``: only this run's."""
    verify = site_state(profile).of(STATUS)
    if verify.verdict == "not run" or (since is not None and not _after(verify.at, since)):
        return "not checked in this run" if since is not None else f"not checked yet (runbook step {STATUS.number})"
    words = verify.detail if verify.verdict == "ok" else f"{verify.verdict}: {verify.detail}"
    return f"{words} ({utc_text(verify.at)})"


def steps_text(profile: Profile) -> str:
    """Each step's verdict: ``Steps: 01 ok, 02 ok, 03 stale, 04 not run, 05 not run``."""
    return _steps(site_state(profile))


def _steps(current: SiteState) -> str:
    return "Steps: " + ", ".join(f"{s.step.number} {s.verdict}" for s in current.steps)


def recorded_flow(profile: Profile) -> str:
    """The flow of the last successful authorization (audit log), else the one step 01 chose, else ""."""
    for record in reversed(audit.read(profile)):
        if record.get("step") == "authorize" and record.get("outcome") == "ok":
            flow = record.get("parameters", {}).get("flow")
            if flow:
                return str(flow)
    return str(profile.load_settings().get("flow") or "")


def flow_label(flow: str) -> str:
    """``desktop`` -> "Desktop app flow (loopback + PKCE)"; unknown flows are named as they are."""
    return FLOW_LABELS.get(flow, f"{flow} flow" if flow else "flow not chosen yet")


def _epoch(at: str) -> float:
    try:
        return datetime.datetime.fromisoformat(at).timestamp()
    except ValueError:
        return 0.0


def _after(at: str, since: float) -> bool:
    """Whether the record time ``at`` (whole seconds) is not before ``since``."""
    return _epoch(at) >= int(since) if at else False


@dataclass(frozen=True)
class SiteSummary:
    """The summary of one site's run, as the report's first table shows it."""

    site: str
    flow: str
    outcome: str
    token: TokenFacts
    verify: str
    failed_step: str = ""
    fix: str = ""
    steps: str = ""
    """Every step's verdict after the run (:func:`steps_text`)."""

    authorized: bool = True
    """Whether ``flow`` is the flow of a successful authorization (else only step 01's choice)."""

    @property
    def title(self) -> str:
        """The section title: the flow, then the site."""
        return f"{flow_label(self.flow)}: site {self.site}"

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) rows; the failed step and its fix only when something failed."""
        token = self.token
        flow = flow_label(self.flow) + ("" if self.authorized or not self.flow else " (not authorized now)")
        rows = [("Site (profile)", self.site), ("Flow", flow), ("Outcome", self.outcome),
                ("Token id", token.token_id or "none (runbook step 03)"), ("Expiry", token.expiry or "-"),
                ("Account", token.account or "-"), ("Verify", self.verify)]
        if self.steps:
            rows.append(("Steps", self.steps.removeprefix("Steps: ")))
        if self.failed_step:
            rows += [("Failed step", self.failed_step), ("Fix", self.fix)]
        return rows


def summarize(parameters: Mapping[str, object], outcomes: Sequence[tuple[str, NotebookRunError | None]],
              *, started: float, skipped: int = 0) -> SiteSummary:
    """One site's summary from its profile's records and the run's outcome.

    Args:
        parameters: The run's parameters (``profile``, ``home``).
        outcomes: ``(step, error or None)`` for each step that ran, in order.
        started: When the run started (epoch seconds): a verify recorded before it is not this run's.
        skipped: How many steps were skipped as done and still valid.
    """
    profile = open_profile(parameters)
    current = site_state(profile)
    failed = next(((step, error) for step, error in outcomes if error is not None), None)
    ran = f"{len(outcomes)} step{'s' if len(outcomes) != 1 else ''} run" + (f", {skipped} skipped" if skipped else "")
    outcome = f"FAILED at {failed[0]} ({ran})" if failed else f"ok ({ran})"
    return SiteSummary(
        site=profile.name, flow=recorded_flow(profile), outcome=outcome, token=token_facts(current),
        verify=verify_text(profile, since=started),
        failed_step=failed[0] if failed else "", fix=(failed[1].fix or "") if failed else "",
        authorized=current.of(AUTHORIZE).verdict == "ok",
        steps=_steps(current),
    )
