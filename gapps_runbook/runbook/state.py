"""Where a site stands: every step's verdict and the token's health, judged once from the profile.

Every surface (00 in the notebook and the app, each app page's header, ``status``, ``status --all``,
``run`` result lines, ``run all``'s skip decisions, batch outcomes, the run report and the ticket
summary) renders a :class:`SiteState` read by :func:`read`; none judges on its own.

A verdict is one of :data:`VERDICTS`:

* ``ok``: the step's record says so and everything it rests on still holds;
* ``stale``: it was done, but a fact it rests on (``Step.rests_on``: 01's flow or scopes, 02's
  client, the token) changed since, or its result no longer holds; the detail says what changed and
  ``redo`` names the step to run;
* ``failed``: its last attempt failed (and nothing good is left in its place);
* ``not run``: no record;
* ``in progress``: step 03 has an authorization waiting in a live process.

Three questions are answered by one function each: :func:`health` (is the stored token usable: one
threshold, :data:`USABLE_MARGIN`), :func:`authorization_problem` (is the stored authorization current
for what is asked now: client unchanged, requested scopes granted, token usable, pinned account) and
step 04's verdict (a verify belongs to the token it checked: :func:`_verify`). Reading is local: no
network call, no lock held across files, nothing written.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..oauth import tokeninfo
from ..oauth.clock import duration_text, iso_utc, utc_text
from ..steps import AUTHORIZE, BACKUP, CHECKLIST, CLIENT, STATUS, Step
from .site import Site
from .token_status import TokenStatus, status

Verdict = Literal["ok", "stale", "failed", "not run", "in progress"]
VERDICTS: tuple[Verdict, ...] = ("ok", "stale", "failed", "not run", "in progress")

USABLE_MARGIN = 60
"""Seconds an access token without a refresh token must still have to count as usable."""
EXPIRING_WITHIN = 7 * 24 * 3600
"""A refresh token that dies within this many seconds makes the token ``expiring`` (consent screen in Testing)."""
ATTEMPT_RECORD = "authorize_attempt"
"""The record of step 03's latest failed or cancelled attempt while a stored authorization stays in place."""
_WAITING: dict[str, tuple[str, str]] = {}
"""Step 03 attempts waiting in this process, by profile folder: (started at, what it waits for). Kept in
memory, not in the profile: starting an attempt writes nothing, so a page that opens step 03 changes no file."""
_WAITING_LOCK = threading.Lock()
_ATTEMPT_ENDS = {"cancelled": "was cancelled", "denied": "was denied", "expired": "expired", "timed out": "timed out",
                 "failed": "failed"}
"""How step 03's verdict words a new attempt that got no token (``runbook.authorize`` records the key)."""

FACT_WORDS = {
    "flow": "step 01's flow",
    "scopes": "step 01's services (scopes)",
    "client_id": "step 02's client",
    "client_type": "step 02's client type",
    "token_id": "the stored token",
}
"""How each fact a record rests on is named (``Step.rests_on``, ``Site.facts``)."""


@dataclass(frozen=True)
class TokenHealth:
    """Whether the stored token can be used, in one word, with why and what to do.

    ``word``: ``none`` (no token), ``ok``, ``expiring`` (usable, but the grant ends soon),
    ``expired`` (can no longer get an access token: its time ran out, or the provider refused the refresh
    token, ``invalid_grant``), ``interrupted`` (a refresh was cut off after
    the provider may have rotated the refresh token), ``handed off`` (the application owns the refresh
    token: the grant lives there, and this profile no longer refreshes it).
    """

    word: Literal["none", "ok", "expiring", "expired", "interrupted", "handed off"]
    detail: str
    fix: str = ""

    @property
    def usable(self) -> bool:
        """True for ``ok``, ``expiring`` and ``handed off``: the grant works or can be refreshed now."""
        return self.word in ("ok", "expiring", "handed off")


@dataclass(frozen=True)
class StepState:
    """One step's verdict.

    Attributes:
        step: The step.
        verdict: One of :data:`VERDICTS`.
        detail: The result words, or why it is not ok ("step 02's client changed since").
        at: When its record was written (ISO 8601, UTC), "" without one.
        by: Who wrote it (the operator), "" without one.
        rests_on: The facts the record rests on and their values when it was written.
        redo: The step to run when the verdict is not ok (None when ok).
    """

    step: Step
    verdict: Verdict
    detail: str = ""
    at: str = ""
    by: str = ""
    rests_on: Mapping[str, str] | None = None
    redo: Step | None = None

    @property
    def when(self) -> str:
        """"2026-11-30 23:32 UTC by alice", or ""."""
        if not self.at:
            return ""
        return utc_text(self.at) + (f" by {self.by}" if self.by else "")

    @property
    def line(self) -> str:
        """The verdict as one line: "03 authorize: stale: step 02's client changed since (run runbook step 03 ...)"."""
        text = f"{self.step.number} {self.step.title}: {self.verdict}"
        if self.detail:
            text += f": {self.detail}"
        if self.redo is not None and self.verdict not in ("ok", "not run"):
            text += f" (run {self.redo.ref})"
        return text

    def to_json(self) -> dict[str, Any]:
        """The verdict as JSON (``status --json``)."""
        return {"step": self.step.number, "title": self.step.title, "verdict": self.verdict, "detail": self.detail,
                "at": self.at, "by": self.by, "rests_on": dict(self.rests_on or {}),
                "redo": self.redo.number if self.redo else None}


@dataclass(frozen=True)
class SiteState:
    """Where one site stands, read at :attr:`taken_at`: each step's verdict, the token and its health."""

    profile: str
    issuer: str
    flow: str
    steps: tuple[StepState, ...]
    token: TokenStatus
    health: TokenHealth
    checklist: Mapping[str, bool]
    last_export: Mapping[str, Any] | None
    taken_at: float

    def of(self, step: Step) -> StepState:
        """The verdict of ``step``."""
        return next(s for s in self.steps if s.step == step)

    @property
    def usable(self) -> bool:
        """Whether the stored token can be used now (:func:`health`)."""
        return self.health.usable

    def to_json(self) -> dict[str, Any]:
        """The state as JSON: the token's fields, its health and every step's verdict."""
        return {**self.token.to_json(), "issuer": self.issuer, "flow": self.flow, "usable": self.usable,
                "health": self.health.word, "health_detail": self.health.detail,
                "steps": [s.to_json() for s in self.steps], "last_export": self.last_export,
                "taken_at": iso_utc(self.taken_at)}


def health(st: TokenStatus) -> TokenHealth:
    """The one judgement of "is the stored token usable" (threshold :data:`USABLE_MARGIN`)."""
    fix = f"run {AUTHORIZE.ref} again"
    if st.token_id is None:
        return TokenHealth("none", "no token", f"run {AUTHORIZE.ref}")
    if st.refresh_interrupted:
        return TokenHealth("interrupted", "a refresh was interrupted after the provider may have replaced the "
                           "refresh token", "run `gapps-runbook refresh`; if it is refused, " + fix)
    if st.refused_at:
        return TokenHealth("expired", f"the provider refused the refresh token ({st.refused_at}): the grant was "
                           "revoked or has expired", fix)
    if st.handed_off_to:
        return TokenHealth("handed off", f"the application at {st.handed_off_to} owns the refresh token (the "
                           "provider rotates them)", f"authorize again ({AUTHORIZE.ref}) to take the grant back")
    refresh_left = st.refresh_token_expires_in
    access_left = st.expires_in or 0
    if st.has_refresh_token and refresh_left is not None and refresh_left <= 0:
        return TokenHealth("expired", "the refresh token has expired: the grant is over", fix)
    if st.has_refresh_token and (refresh_left is None or refresh_left > 0):
        if refresh_left is not None and refresh_left <= EXPIRING_WITHIN:
            return TokenHealth("expiring", f"the refresh token expires in {duration_text(refresh_left)}",
                               "publish the consent screen (Testing-mode refresh tokens last 7 days), then " + fix)
        return TokenHealth("ok", "usable and refreshable")
    if access_left > USABLE_MARGIN:
        return TokenHealth("expiring", f"no refresh token: access ends in {duration_text(access_left)}",
                           fix + " with offline access")
    return TokenHealth("expired", "the token can no longer be refreshed", fix)


def usable(st: TokenStatus) -> bool:
    """Whether the stored token works or can be refreshed now (:func:`health`)."""
    return health(st).usable


def authorization_problem(site: Site, st: TokenStatus, requested: Sequence[str] | None = None,
                          *, pinned: str | None = None) -> str | None:
    """Why the stored authorization is not current for what is asked now, or None when it is.

    Current means: the token was issued to the stored client, carries every requested scope, is
    usable (:func:`health`) and belongs to the pinned account, if one is pinned.

    Args:
        site: The site.
        st: Its token status (:func:`runbook.status`).
        requested: The scopes asked for now; None: the ones step 01 saved.
        pinned: The account that must own the token; None: the one pinned in the profile.
    """
    if st.token_id is None:
        return "no token is stored"
    record = _record(site.profile.load_settings(), AUTHORIZE.record)
    old_client = (record.get("rests_on") or {}).get("client_id")
    if old_client and st.client_id and old_client != st.client_id:
        return "step 02's client changed since the token was authorized"
    wanted = tuple(requested) if requested is not None else tuple(site.profile.load_settings().get("scopes") or ())
    missing, _extra = tokeninfo.scope_diff(wanted, st.scopes)
    if missing:
        return "the token lacks requested scopes: " + " ".join(missing)
    judged = health(st)
    if not judged.usable:
        return judged.detail
    want = pinned if pinned is not None else site.profile.load_settings().get("expected_account")
    if want and str(want).lower() != (st.account or "").lower():
        return f"the token belongs to {st.account or 'an unknown account'}, not the pinned {want}"
    return None


def already_authorized(site: Site, requested: Sequence[str]) -> TokenStatus | None:
    """The token status when step 03 is ok and the stored authorization is current for ``requested``, else None."""
    current = read(site)
    if current.of(AUTHORIZE).verdict != "ok":
        return None
    return current.token if authorization_problem(site, current.token, requested) is None else None


def read(site: Site, *, now: float | None = None) -> SiteState:
    """Read the site's state from its profile: one verdict per step 01-05, the token and its health."""
    settings = site.profile.load_settings()
    st = status(site)
    facts = site.facts()
    judged = health(st)
    authorize = _authorize(site, settings, facts, st, judged)
    steps = (_checklist(settings, facts), _client(settings, facts), authorize,
             _upon(_verify(settings, facts, st), authorize), _export(settings, facts))
    issuer = site.issuer or str(settings.get("issuer") or "")
    return SiteState(site.profile.name, issuer, str(settings.get("flow") or ""), steps, st, judged,
                     dict(settings.get("checklist") or {}), _last_export(settings),
                     time.time() if now is None else now)


def _record(settings: Mapping[str, Any], key: str) -> dict[str, Any]:
    record = (settings.get("steps") or {}).get(key)
    return record if isinstance(record, dict) else {}


def _last_export(settings: Mapping[str, Any]) -> dict[str, Any] | None:
    record = settings.get("last_export")
    return dict(record) if isinstance(record, Mapping) else None


def _base(step: Step, record: Mapping[str, Any]) -> dict[str, Any]:
    return {"at": str(record.get("at") or ""), "by": str(record.get("operator") or ""),
            "rests_on": dict(record.get("rests_on") or {})}


def _changed(record: Mapping[str, Any], facts: Mapping[str, str], names: Sequence[str]) -> str | None:
    """What changed: the first fact in ``names`` whose value differs from the one the record rests on."""
    rested = record.get("rests_on")
    if not isinstance(rested, Mapping):
        return None  # a record written before facts were kept: nothing to compare
    for name in names:
        # a fact unknown when the record was written (01 not run yet: no flow) is not one it rests on
        if rested.get(name) and str(rested[name]) != facts.get(name, ""):
            now = facts.get(name, "")
            if name == "flow" and now:
                return f"step 01 now chooses the {now} flow (this was done with the {rested[name]} flow)"
            return f"{FACT_WORDS[name]} changed since" + ("" if now else " (now none)")
    return None


def _judge(step: Step, record: Mapping[str, Any], facts: Mapping[str, str], names: Sequence[str]) -> StepState:
    """The record's own verdict, made stale by a changed fact it rests on."""
    if not record:
        return StepState(step, "not run", redo=step)
    base = _base(step, record)
    change = _changed(record, facts, names)
    if change is not None:
        return StepState(step, "stale", change, redo=step, **base)
    if record.get("status") == "ok":
        return StepState(step, "ok", str(record.get("detail") or step.done), **base)
    if record.get("status") == "failed":
        return StepState(step, "failed", str(record.get("detail") or ""), redo=step, **base)
    return StepState(step, "stale", str(record.get("detail") or ""), redo=step, **base)  # e.g. 03 "revoked"


def _checklist(settings: Mapping[str, Any], facts: Mapping[str, str]) -> StepState:
    record = _record(settings, CHECKLIST.record)
    names: tuple[str, ...] = CHECKLIST.rests_on  # a failed preflight: any other client may fix it
    if record.get("status") == "ok":
        # A passed preflight holds while the stored client is of the type its flow needs; a client stored
        # since, of that type, changes nothing (02 judges the client itself).
        kind, flow = facts.get("client_type", ""), facts.get("flow", "")
        names = ("client_type",) if kind and flow and kind != flow else ()
    return _judge(CHECKLIST, record, facts, names)


def _client(settings: Mapping[str, Any], facts: Mapping[str, str]) -> StepState:
    record = _record(settings, CLIENT.record)
    state = _judge(CLIENT, record, facts, ())
    flow, kind = facts.get("flow", ""), facts.get("client_type", "")
    if state.verdict == "ok" and flow and kind and flow != kind:
        detail = f"step 01 now chooses the {flow} flow; the stored client is a {kind} client"
        return StepState(CLIENT, "stale", detail, state.at, state.by, state.rests_on, CLIENT)
    if state.verdict == "ok" and not facts.get("client_id"):
        return StepState(CLIENT, "stale", "no client is stored", state.at, state.by, state.rests_on, CLIENT)
    return state


def begin_attempt(site: Site, detail: str) -> None:
    """Step 03 started waiting in this process (``detail``: what for); :func:`read` says "in progress"."""
    with _WAITING_LOCK:
        _WAITING[str(site.profile.path)] = (iso_utc(time.time()), detail)


def end_attempt(site: Site) -> None:
    """Step 03's attempt in this process is over (authorized, failed or cancelled)."""
    with _WAITING_LOCK:
        _WAITING.pop(str(site.profile.path), None)


def _attempt(settings: Mapping[str, Any], after: str) -> dict[str, Any]:
    """Step 03's latest failed or cancelled attempt, when it is newer than the authorization record (``after``)."""
    attempt = _record(settings, ATTEMPT_RECORD)
    if not attempt or str(attempt.get("at") or "") < after:
        return {}
    return attempt


def _authorize(site: Site, settings: Mapping[str, Any], facts: Mapping[str, str], st: TokenStatus,
               judged: TokenHealth) -> StepState:
    record = _record(settings, AUTHORIZE.record)
    attempt = _attempt(settings, str(record.get("at") or ""))
    with _WAITING_LOCK:
        waiting = _WAITING.get(str(site.profile.path))
    if waiting is not None:
        good = record.get("status") == "ok" and judged.usable
        keep = f"; the stored token {st.token_id} still works" if good else ""
        return StepState(AUTHORIZE, "in progress", f"{waiting[1]}{keep}", at=waiting[0])
    state = _judge(AUTHORIZE, record, facts, ("client_id", "flow"))
    if state.verdict != "ok":
        return state
    problem = authorization_problem(site, st)
    if problem is not None:
        return StepState(AUTHORIZE, "stale", problem, state.at, state.by, state.rests_on, AUTHORIZE)
    detail = state.detail
    if attempt and attempt.get("status") in _ATTEMPT_ENDS:
        word = _ATTEMPT_ENDS[str(attempt.get("status"))]
        detail += (f"; the new attempt {word} ({utc_text(str(attempt.get('at') or ''))}: "
                   f"{attempt.get('detail') or 'no detail'}); the stored token {st.token_id} still works")
    return StepState(AUTHORIZE, "ok", detail, state.at, state.by, state.rests_on)


def _upon(state: StepState, upstream: StepState) -> StepState:
    """An ok verdict that rests on an upstream step that is no longer ok is stale, with that step to redo."""
    if state.verdict != "ok" or upstream.verdict in ("ok", "in progress"):
        return state
    detail = f"step {upstream.step.number} is {upstream.verdict}" + (f" ({upstream.detail})" if upstream.detail else "")
    return StepState(state.step, "stale", detail, state.at, state.by, state.rests_on, upstream.redo or upstream.step)


def _verify(settings: Mapping[str, Any], facts: Mapping[str, str], st: TokenStatus) -> StepState:
    record = _record(settings, STATUS.record)
    state = _judge(STATUS, record, facts, ())
    if not record:
        return state
    checked = (record.get("rests_on") or {}).get("token_id")
    if checked is not None and checked != (st.token_id or ""):
        now = f"the stored token is now {st.token_id}" if st.token_id else "no token is stored now"
        detail = f"the verify checked token {checked or 'none'}; {now}"
        redo = STATUS if st.token_id else AUTHORIZE
        return StepState(STATUS, "stale", detail, state.at, state.by, state.rests_on, redo)
    return state


def _export(settings: Mapping[str, Any], facts: Mapping[str, str]) -> StepState:
    record = _last_export(settings)
    if record is None:
        return StepState(BACKUP, "not run", "never exported", redo=BACKUP)
    at, by = str(record.get("at") or ""), str(record.get("by") or "")
    rests_on = {"token_id": str(record["token_id"])} if "token_id" in record else {}
    detail = f"to {record.get('file')}"
    if rests_on and rests_on["token_id"] != facts.get("token_id", ""):
        return StepState(BACKUP, "stale", f"exported {detail}; the token changed since (a restore brings back "
                         "the older one)", at, by, rests_on, BACKUP)
    return StepState(BACKUP, "ok", f"exported {detail}", at, by, rests_on)

