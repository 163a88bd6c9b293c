"""What verify found, and the one wording of it that the CLI and the notebooks both print.

A :class:`Check` is one call and its outcome against what was expected; :attr:`Check.summary` and
:attr:`Check.line` are the human words for it ("Calendar calendarList.list: allowed, as expected").
A :class:`VerifyReport` is ``ok`` only when at least one check ran and every check came out as
expected: a report that :attr:`~VerifyReport.proved_nothing` is never a success.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from .scope_catalog import SERVICES

Outcome = Literal["allowed", "refused", "error", "skipped", "unverifiable"]
_NOT_RUN = frozenset({"skipped", "unverifiable"})
API_NAMES = {
    **{key: service.name for key, service in SERVICES.items() if service.probes},
    "userinfo": "UserInfo",
    "introspection": "Introspection",
    "tokeninfo": "Tokeninfo",
    "provider": "Provider",
}


@dataclass(frozen=True)
class Check:
    """One call and what came of it.

    Attributes:
        api: A catalog service's key (``calendar``, ``gmail``: Google's APIs), ``userinfo`` (OpenID Connect Core §5.3),
            ``introspection`` (RFC 7662) or ``tokeninfo``; ``provider`` for the "nothing could be
            checked" entry.
        call: The method called (``calendarList.list``, ``GET /userinfo``), or the provider's host.
        expected: What the granted scopes should allow.
        outcome: ``allowed``, ``refused``, ``error``, ``skipped`` or ``unverifiable``.
        detail: One line for the user (no secrets).
        ok: ``outcome == expected``.
        fix: What to do when it is not ok.
        network: The outcome is network or server trouble (no answer, 408/429/5xx after the retries,
            a 2xx that is not JSON): it says nothing about the token.
        sample: Proof from real data, when the call was allowed and its probe counts entries
            (:func:`gapps_runbook.oauth.verify.sample`): ``count`` (entries on the first page), ``more``
            (another page exists), ``total`` (the account's total, when the API reports it) and
            ``primary`` (the primary entry's name, when the list marks one); None otherwise. Never a
            token or secret.
    """

    api: str
    call: str
    expected: Literal["allowed", "refused"]
    outcome: Outcome
    detail: str
    ok: bool
    fix: str = ""
    network: bool = False
    sample: dict[str, Any] | None = None

    @property
    def title(self) -> str:
        """``Calendar calendarList.list``, ``UserInfo GET /userinfo``, ``Provider idp.example``."""
        return f"{API_NAMES.get(self.api, self.api)} {self.call}"

    @property
    def summary(self) -> str:
        """The check in words: ``Gmail users.getProfile: refused, as expected``."""
        if self.outcome == "unverifiable":
            return f"{self.title}: unverifiable, nothing could be checked"
        if self.ok:
            return f"{self.title}: {self.outcome}, as expected"
        return f"{self.title}: {self.outcome}, expected {self.expected}"

    @property
    def line(self) -> str:
        """The one line a terminal or notebook shows: mark, summary, detail."""
        return f"{'ok ' if self.ok else 'BAD'} {self.summary}. {self.detail}".rstrip()

    def to_json(self) -> dict[str, Any]:
        """The fields plus ``summary`` (no secrets in any of them)."""
        return {**asdict(self), "summary": self.summary}


@dataclass(frozen=True)
class VerifyReport:
    """All checks; ``ok`` when at least one ran and every one came out as expected."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        ran = [c for c in self.checks if c.outcome not in _NOT_RUN]
        return bool(ran) and all(c.ok for c in ran)

    @property
    def proved_nothing(self) -> bool:
        """True when no check could run: the token is unverified, which is not a success."""
        return all(c.outcome in _NOT_RUN for c in self.checks)

    @property
    def skipped(self) -> bool:
        """Deprecated (use :attr:`proved_nothing`): True only when every check is ``skipped``.

        verify never skips silently: a provider it cannot check gives an ``unverifiable`` check.
        """
        return bool(self.checks) and all(c.outcome == "skipped" for c in self.checks)

    @property
    def verdict(self) -> str:
        """The report in one line: ``verified: ...``, ``not verified: ...`` or ``unverifiable: ...``."""
        if self.proved_nothing:
            first = next((c for c in self.checks if c.outcome == "unverifiable"), None)
            return f"unverifiable: {first.detail if first else 'no check ran'}"
        if self.ok:
            return f"verified: {'; '.join(c.summary for c in self.checks)}"
        bad = next(c for c in self.checks if not c.ok and c.outcome not in _NOT_RUN)
        return f"not verified: {bad.summary} ({bad.detail})"

    @property
    def fix(self) -> str:
        """The fix of the first check that is not ok, or nothing."""
        return next((c.fix for c in self.checks if not c.ok and c.fix), "")

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: ``ok``, ``proved_nothing``, ``verdict``, the checks (no secrets in any field)."""
        return {"ok": self.ok, "proved_nothing": self.proved_nothing, "skipped": self.skipped,
                "verdict": self.verdict, "checks": [c.to_json() for c in self.checks]}
