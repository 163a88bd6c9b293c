"""What one site's run in a batch came to: its outcome, the reason, the fix, and the batch's exit code.

Outcomes, from the worst down (the batch exits with the worst site's code; 0 only when all are ``ok``):

========================  =====  ==========================================================================
outcome                   exit   when
========================  =====  ==========================================================================
``failed``                1      the notebook failed for another reason (a bug, an expired code, cancelled)
``misconfigured``         3      the notebook failed with a runbook error of exit class 3 (invalid_client,
                                 a missing client, invalid_scope)
``denied``                4      the person (or an admin) refused the grant, or another account approved
                                 it than the pinned one (``batch 03`` with the device flow)
``reauthorize``           7      the notebook failed with an error of exit class 7 (invalid_grant, no
                                 token), or the token lacks requested scopes
``expired``               7      the run passed but the profile can no longer get an access token: the
                                 refresh token's lifetime is over, or there is no refresh token and the
                                 access token has expired
``network``               6      the notebook failed with an error of exit class 6 (provider unreachable)
``expiring``              7      the run passed but the grant dies soon: the refresh token expires within
                                 ``runbook.state.EXPIRING_WITHIN`` (7 days: every refresh token of a consent screen
                                 in Testing), or there is no refresh token at all
``ok``                    0      the run passed and the profile can refresh its token for more than 7 days
========================  =====  ==========================================================================

A passing run is judged from the site's state (:func:`gapps_runbook.runbook.state.read`, whose
:func:`~gapps_runbook.runbook.state.health` decides ``expired`` and ``expiring``) read *after* the
notebook, on the local profile (no network call). A failing run is judged by the class name of the kernel-side error
(``NotebookRunError.step_exit_code``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from typing import TYPE_CHECKING

from ..errors import ExitCode, NotebookRunError
from ..steps import AUTHORIZE

if TYPE_CHECKING:
    from ..runbook.state import SiteState

OUTCOMES: tuple[str, ...] = ("failed", "misconfigured", "denied", "reauthorize", "expired", "network", "expiring", "ok")
"""Every outcome, worst first."""

EXIT_CODES: dict[str, ExitCode] = {
    "failed": ExitCode.FAILURE, "misconfigured": ExitCode.MISCONFIGURED, "denied": ExitCode.DENIED,
    "reauthorize": ExitCode.REAUTHORIZE,
    "expired": ExitCode.REAUTHORIZE, "network": ExitCode.NETWORK, "expiring": ExitCode.REAUTHORIZE,
    "ok": ExitCode.OK,
}
BY_EXIT_CLASS = {ExitCode.REAUTHORIZE: "reauthorize", ExitCode.MISCONFIGURED: "misconfigured",
                 ExitCode.NETWORK: "network", ExitCode.DENIED: "denied"}
"""The outcome of a failure by the exit class of its error (any other class: ``failed``)."""
CANCELLED = "cancelled"


@dataclass(frozen=True)
class SiteOutcome:
    """One row of ``summary.json``; it never holds a secret (the token id is the one ``status`` shows).

    Attributes:
        profile: The site's profile.
        outcome: One of :data:`OUTCOMES`.
        detail: Why, in one line.
        fix: What to do, in one line ("" when ok).
        token_id: The token's id as ``status`` shows it, if any.
        expires_in: Seconds the access token has left, if any.
        refresh_token_expires_in: Seconds the refresh token has left, when the provider said.
        account: The approving account, if known.
        notes: The ``notes`` column of the sites file.
        notebook: The executed, scrubbed notebook, relative to the batch folder ("" when none).
        duration: Seconds the site's run took.
    """

    profile: str
    outcome: str
    detail: str
    fix: str = ""
    token_id: str | None = None
    expires_in: int | None = None
    refresh_token_expires_in: int | None = None
    account: str | None = None
    notes: str = ""
    notebook: str = ""
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The summary row (``extra`` left out)."""
        row = asdict(self)
        row.pop("extra")
        row["duration"] = round(self.duration, 2)
        return row


def from_failure(error: NotebookRunError) -> tuple[str, str, str]:
    """``(outcome, detail, fix)`` of a failed notebook, by the exit class of its kernel-side error."""
    outcome = BY_EXIT_CLASS.get(error.step_exit_code, "failed")
    if error.ename == "KeyboardInterrupt":
        return "failed", CANCELLED, "run the batch again for this site"
    what = error.evalue.partition("Fix:")[0].strip() or str(error).partition(" Fix:")[0]
    return outcome, f"{error.ename}: {what}" if error.ename else what, error.fix or ""


HEALTH_OUTCOMES = {"none": "reauthorize", "interrupted": "reauthorize", "expired": "expired",
                   "expiring": "expiring", "ok": "ok", "handed off": "ok"}
"""The outcome of a passed run by the token's health (:func:`gapps_runbook.runbook.state.health`)."""


def from_state(state: SiteState) -> tuple[str, str, str]:
    """``(outcome, detail, fix)`` of a passed notebook, from the site's state read after it (see module)."""
    st = state.token
    if st.token_id is not None and st.missing_scopes:
        return ("reauthorize", f"the token lacks requested scopes: {' '.join(st.missing_scopes)}",
                f"run {AUTHORIZE.ref} again to grant them")
    health = state.health
    if health.word == "ok":
        return "ok", "token usable and refreshable", ""
    return HEALTH_OUTCOMES[health.word], health.detail, health.fix


def batch_exit_code(outcomes: list[str]) -> int:
    """0 when every site is ``ok`` (and there is at least one), else the exit code of the worst outcome."""
    if not outcomes:
        return int(ExitCode.BAD_INPUT)
    worst = min(outcomes, key=OUTCOMES.index)
    return int(EXIT_CODES[worst])
