"""``batch 03 ... -p flow device``: step 03's device flow over many sites at once, the codes sent to the operator.

Why not notebooks: papermill hands back a notebook only once it has run to its end, so a device
card a kernel shows while it waits for approval could never reach the operator in time. With the
device flow the batch therefore runs step 03 directly, one thread per site, every site at once
(:func:`runbook.authorize` with ``flow="device"``; ``--jobs`` does not apply: each thread only
sleeps between polls). There is no per-site notebook in the batch folder; the summary, CSV and
report are the same as any batch's.

Each site's code goes out as one JSON object (:func:`code_event`), to every destination of a
:class:`Notifier`: a line on stdout (always), a line appended to a hand-off file (``--handoff``,
0600), and one POST to a webhook (``--webhook``: https, or http on a loopback host). The object
holds what a person needs (the user code, the verification URL, the lifetime), never the device
code, which is the client's secret for polling (RFC 8628 §3.2, §5.2) and never leaves this
process. A webhook that fails is reported for that site (on stderr and in its summary ``detail``)
and the site goes on waiting: the code is on stdout too. Polling goes on per site until approval,
denial or expiry (or Ctrl-C, which cancels every wait within a second).
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import Cancelled, InputError, RunbookError
from ..profile.private_files import O_CLOEXEC, O_NOFOLLOW, privatize_fd
from ..safety.redact import redact, register_secret
from .executors import OnDone, SiteTask, crashed
from .outcome import BY_EXIT_CLASS, CANCELLED, SiteOutcome, from_state

WEBHOOK_TIMEOUT = 10.0
"""Seconds one webhook POST may take; a slower one is reported as failed and the site goes on waiting."""


def check_webhook(url: str) -> str:
    """``url`` if it is https, or http on a loopback host; it is registered as a secret (it often is one).

    Raises:
        InputError: Another scheme, no host, or plain http to a host that is not loopback.
    """
    from ..oauth.endpoints import LOOPBACK_HOSTS

    parts = urllib.parse.urlsplit(url)
    register_secret(url)
    loopback = (parts.hostname or "") in LOOPBACK_HOSTS
    if not parts.hostname or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise InputError("--webhook must be an https URL (or http on 127.0.0.1, ::1 or localhost)",
                         fix="pass the receiver's https address, e.g. --webhook https://hooks.example.com/gapps")
    return url


def code_event(profile: str, grant: Any) -> dict[str, Any]:
    """The operator's JSON for one site's device code: user code, URL(s), lifetime; never the device code."""
    event = {"event": "user_code", "profile": profile, "user_code": grant.user_code,
             "verification_url": grant.verification_uri, "expires_in": grant.expires_in}
    complete = getattr(grant, "verification_uri_complete", None)
    return {**event, "verification_uri_complete": complete} if complete else event


class Notifier:
    """Sends each event to stdout, the hand-off file and the webhook (thread-safe).

    Args:
        echo: Writes one line to stdout.
        handoff: A file the JSON lines are appended to (created 0600; a symlink or another user's file is refused).
        webhook: A URL from :func:`check_webhook`; one POST of the JSON per event.
    """

    def __init__(self, echo: Callable[[str], None], *, handoff: Path | None = None, webhook: str | None = None) -> None:
        self.echo = echo
        self.handoff = handoff
        self.webhook = webhook
        self._lock = threading.Lock()
        if handoff is not None:
            os.close(self._open_handoff())  # refuse a bad path before any site starts

    def _open_handoff(self) -> int:
        assert self.handoff is not None
        try:
            fd = os.open(self.handoff, os.O_WRONLY | os.O_APPEND | os.O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        except OSError as exc:
            raise InputError(f"cannot open the hand-off file {self.handoff} ({exc.strerror})",
                             fix="pass a path to a regular file of yours (not a symlink) in an existing folder") from None
        try:
            privatize_fd(fd, self.handoff)  # a regular file of ours, 0600
        except RunbookError:
            os.close(fd)
            raise
        return fd

    def send(self, event: dict[str, Any]) -> str | None:
        """Send ``event`` everywhere; returns what failed, in one line, or None."""
        line = json.dumps(event, sort_keys=True)
        with self._lock:
            self.echo(line)
            if self.handoff is not None:
                fd = self._open_handoff()
                try:
                    os.write(fd, (line + "\n").encode("utf-8"))
                finally:
                    os.close(fd)
        return self._post(event) if self.webhook is not None else None

    def say(self, event: dict[str, Any]) -> None:
        """One JSON line on stdout only (a site's outcome, a failed notification)."""
        with self._lock:
            self.echo(json.dumps(event, sort_keys=True))

    def _post(self, event: dict[str, Any]) -> str | None:
        import requests

        from ..oauth.transport import USER_AGENT, host_of

        assert self.webhook is not None
        host = host_of(self.webhook)
        try:
            reply = requests.post(self.webhook, json=event, timeout=WEBHOOK_TIMEOUT, allow_redirects=False,
                                  headers={"User-Agent": USER_AGENT})
        except requests.RequestException as exc:
            return f"the webhook at {host} failed ({type(exc).__name__})"
        return None if 200 <= reply.status_code < 300 else f"the webhook at {host} answered HTTP {reply.status_code}"


def _seconds(value: object) -> float | None:
    """A ``-p timeout`` value as seconds, None when not given."""
    return float(value) if isinstance(value, (int, float, str)) and value else None


def authorize_site(task: SiteTask, notifier: Notifier, cancelled: Callable[[], bool]) -> SiteOutcome:
    """Step 03 with the device flow for one site; never raises for the site's own failure.

    The parameters used are those of notebook 03: ``services``, ``timeout``, ``reauthorize`` and
    ``expected_account``; a site already authorized for the scopes is left as it is unless ``reauthorize``.
    """
    from .. import runbook

    started, trouble = time.monotonic(), []
    params = task.parameters

    def on_code(grant: Any) -> None:
        problem = notifier.send(code_event(task.profile, grant))
        if problem:
            trouble.append(problem)
            notifier.say({"event": "notify_failed", "profile": task.profile, "detail": problem})

    def row(outcome: str, detail: str, fix: str, **more: Any) -> SiteOutcome:
        detail = "; ".join([detail, *trouble])
        return SiteOutcome(task.profile, outcome, redact(detail), fix, notes=task.notes,
                           duration=time.monotonic() - started, **more)

    try:
        site = runbook.Site.open(task.profile, home=Path(task.home) if task.home else None, issuer=task.issuer or None)
        if params.get("expected_account"):
            runbook.pin_account(site, str(params["expected_account"]))
        services = params.get("services")
        requested = runbook.requested_scopes(site, services=[str(s) for s in services] if isinstance(services, list) else None)
        if params.get("reauthorize") or runbook.state.already_authorized(site, requested) is None:
            runbook.authorize(site, requested, flow="device", on_device_code=on_code, cancelled=cancelled,
                              timeout=_seconds(params.get("timeout")))
        current = runbook.state.read(site)
    except Cancelled:
        return row("failed", CANCELLED, "run the batch again for this site")
    except RunbookError as exc:
        return row(BY_EXIT_CLASS.get(exc.exit_code, "failed"), f"{type(exc).__name__}: {exc.message}", exc.fix or "")
    outcome, detail, fix = from_state(current)
    st = current.token
    return row(outcome, detail, fix, token_id=st.token_id, expires_in=st.expires_in,
               refresh_token_expires_in=st.refresh_token_expires_in, account=st.account)


class DeviceExecutor:
    """Every site's device flow at once, one thread each; Ctrl-C cancels every wait (within a second)."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self.cancel = threading.Event()

    def run(self, tasks: list[SiteTask], on_done: OnDone) -> None:
        """Run the tasks; call ``on_done`` in this thread for each, in finishing order (see ``Executor``)."""
        pool = concurrent.futures.ThreadPoolExecutor(max(1, len(tasks)), thread_name_prefix="gapps-device")
        futures = {pool.submit(authorize_site, task, self.notifier, self.cancel.is_set): task for task in tasks}
        reported: set[str] = set()

        def report(future: concurrent.futures.Future[SiteOutcome]) -> None:
            task = futures[future]
            exc = future.exception()
            outcome = crashed(task, exc) if exc is not None else future.result()
            reported.add(task.profile)
            self.notifier.say({"event": "outcome", "profile": task.profile, "outcome": outcome.outcome})
            on_done(task, outcome)

        try:
            for future in concurrent.futures.as_completed(futures):
                report(future)
        except KeyboardInterrupt:
            self.cancel.set()  # every poller stops within a second, as Cancelled
            pool.shutdown(wait=True)
            for future, task in futures.items():
                if task.profile not in reported:
                    report(future)
            raise
        finally:
            self.cancel.set()
            pool.shutdown(wait=False)
