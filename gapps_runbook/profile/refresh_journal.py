"""A marker that a refresh is under way, so a refresh cut off mid-flight is explained, not guessed at.

Providers that rotate refresh tokens (Okta, Auth0, django-oauth-toolkit; RFC 9700 §4.14.2) invalidate
the old refresh token when they answer a refresh. A process killed after the provider answered and
before the new token reached the disk keeps a used-up refresh token, and the next refresh gets a bare
``invalid_grant``. The runbook writes ``refresh.pending`` (0600, atomic, fsync) before it sends a
refresh and removes it once the answer is stored or the provider refused without rotating; while it
exists, an ``invalid_grant`` is reported as :class:`~gapps_runbook.errors.RefreshInterrupted`.

The marker holds only the time the refresh started: no token, no fingerprint.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..errors import StoreError
from ..oauth.clock import iso_utc
from .files import PENDING_FILE, read_json
from .private_files import remove_private, write_private

if TYPE_CHECKING:
    from .store import Profile


def begin(profile: Profile, *, now: float) -> None:
    """Record that a refresh starts now, unless an interrupted one is already recorded (its time is kept)."""
    if pending(profile) is not None:
        return
    write_private(profile.file(PENDING_FILE), json.dumps({"started_at": iso_utc(now)}).encode("utf-8") + b"\n")


def pending(profile: Profile) -> str | None:
    """When an unfinished refresh started (ISO 8601, UTC), or None when none is recorded.

    A marker that cannot be read still counts (as "an unknown time"): it only changes wording.
    """
    try:
        document = read_json(profile.file(PENDING_FILE))
    except StoreError:  # a torn or foreign marker is still a marker
        return "an unknown time"
    if document is None:
        return None
    started = document.get("started_at")
    return started if isinstance(started, str) else "an unknown time"


def end(profile: Profile) -> None:
    """Forget the marker: the new token is stored, or the provider refused before rotating anything."""
    remove_private(profile.file(PENDING_FILE))
