"""R1 and A1 (docs/reliability.md): revocation never orphans a live grant; a pinned account is enforced.

R1: a revoke that fails (5xx or no answer, after the retries; or a 200 that is a proxy's HTML page)
keeps the local token and says to retry; a 200 deletes it; revoking a grant the provider already
dropped succeeds (exit 0, "already invalid"), so running the step twice is safe.

A1: with ``runbook.pin_account`` / ``authorize --expected-account``, a token approved by another
account (the emulator's ``Scenario(approve_as=...)`` or ``Emulator(account=...)``) is refused with
:class:`AccountMismatch` (exit 4) and never stored, in both flows; without a pin, the account is shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import cli, runbook
from gapps_runbook.commands.lab import wait_until
from gapps_runbook.oauth import tokens
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.emulator import Emulator, RunningEmulator, Scenario, serve
from gapps_runbook.errors import ExitCode, InvalidGrant, RunbookError, TransportError
from gapps_runbook.runbook import AccountMismatch
from gapps_runbook.profile.store import ProfileStore
from gapps_runbook.oauth.transport import RequestsTransport

from fakes import WsgiTransport

from sites import browser, cli_with_desktop_client

ATTACKER = "attacker@example.net"
ADMIN = "admin@example.com"
DEVICE_SCOPES = ("openid", "email")
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"
TOKEN_FILE = "authorized_user.json"


@pytest.fixture
def served() -> Iterator[Callable[..., RunningEmulator]]:
    stack: list[Any] = []

    def make(**options: Any) -> RunningEmulator:
        context = serve(Emulator(**options))
        stack.append(context)
        return context.__enter__()

    yield make
    for context in reversed(stack):
        context.__exit__(None, None, None)


def device_site(tmp_path: Path, running: RunningEmulator, clock: Any, *, timeout: float = 30.0,
                name: str = "site-a") -> runbook.Site:
    site = runbook.Site(ProfileStore(tmp_path / "home").profile(name), RequestsTransport(timeout=timeout), clock,
                        running.base_url)
    device = running.emulator.device_client
    runbook.save_client(site, client_id=device.client_id, client_secret=device.client_secret, client_type="device")
    return site


def desktop_site(tmp_path: Path, running: RunningEmulator) -> runbook.Site:
    site = runbook.Site(ProfileStore(tmp_path / "home").profile("desk"), RequestsTransport(), issuer=running.base_url)
    desktop = running.emulator.desktop_client
    runbook.save_client(site, client_id=desktop.client_id, client_secret=desktop.client_secret, client_type="desktop")
    return site


def wait_revoked(running: RunningEmulator, access_token: str, seconds: float = 60.0) -> None:
    """Wait until the emulator has revoked the grant of ``access_token`` (a late revoke request was answered)."""
    assert wait_until(lambda: running.emulator.state.access(access_token) is None, seconds, poll=0.02), \
        "the emulator never revoked the grant"


def assert_one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "Fix:" in text and "\n" not in text and "Traceback" not in text
    return text


# --- R1 revoke ------------------------------------------------------------------------------------------


def test_r1_5xx_after_retries_keeps_the_token_and_says_retry(tmp_path: Path, served: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = served(clock=clock, auto_approve=True)
    site = device_site(tmp_path, running, clock)
    runbook.authorize(site, DEVICE_SCOPES, flow="device")
    before = site.profile.load_token()
    running.emulator.fail_next("/revoke", "503", 3)
    with pytest.raises(TransportError) as info:
        runbook.revoke(site)
    text = assert_one_line(info.value)
    assert "retry" in text and info.value.exit_code == ExitCode.NETWORK
    assert sum(r.path == "/revoke" for r in running.emulator.requests) == 3
    assert site.profile.load_token() == before  # kept, and still alive at the provider:
    assert runbook.refresh(site).access_token != before.access_token  # type: ignore[union-attr]


def test_r1_200_deletes_and_the_grant_is_gone(tmp_path: Path, served: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = served(clock=clock, auto_approve=True)
    site = device_site(tmp_path, running, clock)
    runbook.authorize(site, DEVICE_SCOPES, flow="device")
    token = site.profile.load_token()
    assert runbook.revoke(site) is False
    assert site.profile.load_token() is None
    with pytest.raises(InvalidGrant):
        tokens.refresh(site.transport, site.endpoints, site.client(), token, clock=clock)  # type: ignore[arg-type]


def test_a_refresh_the_provider_refuses_ends_the_tokens_health_until_a_new_grant(
        tmp_path: Path, served: Callable[..., RunningEmulator]) -> None:
    """Revoked elsewhere (another copy of the grant, the account's security page): the refusal is the truth."""
    clock = FakeClock()
    running = served(clock=clock, auto_approve=True)
    site = device_site(tmp_path, running, clock)
    runbook.authorize(site, DEVICE_SCOPES, flow="device")
    token = site.profile.load_token()
    assert token is not None and runbook.state.read(site).health.word == "ok"
    running.emulator.state.revoke(token.refresh_token)  # not through this profile: its files do not know
    assert runbook.state.read(site).health.word == "ok"
    with pytest.raises(InvalidGrant):
        runbook.refresh(site)
    health = runbook.state.read(site).health
    assert (health.word, health.usable) == ("expired", False) and "refused the refresh token" in health.detail
    assert cli.run(["--home", str(tmp_path / "home"), "--profile", "site-a", "status"]) == ExitCode.REAUTHORIZE
    runbook.authorize(site, DEVICE_SCOPES, flow="device")  # a new grant: healthy again
    assert runbook.state.read(site).health.word == "ok"


def test_r1_proxy_page_at_200_keeps_the_token(tmp_path: Path, served: Callable[..., RunningEmulator]) -> None:
    """A 200 HTML page (captive portal) is not the provider's answer: deleting would orphan a live grant."""
    clock = FakeClock()
    running = served(clock=clock, auto_approve=True)
    site = device_site(tmp_path, running, clock)
    runbook.authorize(site, DEVICE_SCOPES, flow="device")
    running.emulator.fail_next("/revoke", "malformed")
    with pytest.raises(TransportError) as info:
        runbook.revoke(site)
    assert "retry" in assert_one_line(info.value) and info.value.exit_code == ExitCode.NETWORK
    assert site.profile.load_token() is not None
    assert runbook.revoke(site) is False and site.profile.load_token() is None


def test_r1_revoking_twice_succeeds(tmp_path: Path, served: Callable[..., RunningEmulator]) -> None:
    """Every attempt times out on the client, but the provider did revoke: the second run finds it done."""
    clock = FakeClock()
    running = served(clock=clock, auto_approve=True)
    running.emulator.timeout_seconds = 0.6
    site = device_site(tmp_path, running, clock, timeout=0.2)
    runbook.authorize(site, DEVICE_SCOPES, flow="device")
    running.emulator.fail_next("/revoke", "timeout", 3)
    with pytest.raises(TransportError) as info:
        runbook.revoke(site)
    assert "retry" in assert_one_line(info.value)
    token = site.profile.load_token()
    assert token is not None
    wait_revoked(running, token.access_token)  # the late requests reach the provider: the grant is revoked now
    assert runbook.revoke(site) is True  # already revoked at the provider: success
    assert site.profile.load_token() is None


def test_r1_cli_second_revoke_exits_0(tmp_path: Path, served: Callable[..., RunningEmulator],
                                      monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The CLI: revoke, put the same token back (a restored backup, a second copy), revoke again: exit 0."""
    monkeypatch.setattr("webbrowser.open", lambda url: browser(url) or True)
    running = served(auto_approve=True)
    home = tmp_path / "home"
    base = cli_with_desktop_client(tmp_path, running, "r1")
    assert cli.run([*base, "authorize", "--service", "calendar", "--service", "openid"]) == 0
    token_file = home / "profiles" / "r1" / TOKEN_FILE
    saved = token_file.read_bytes()
    capsys.readouterr()
    assert cli.run([*base, "revoke", "--yes"]) == 0
    assert "Local copy:" in (out := capsys.readouterr().out) and "deleted: status shows no token" in out and not token_file.exists()
    token_file.write_bytes(saved)
    token_file.chmod(0o600)
    assert cli.run([*base, "revoke", "--yes"]) == 0
    assert "already invalid" in capsys.readouterr().out and not token_file.exists()


# --- A1 account confusion ---------------------------------------------------------------------------------


def test_a1_device_pinned_refuses_another_account(tmp_path: Path, served: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = served(clock=clock)
    site = device_site(tmp_path, running, clock)
    runbook.pin_account(site, ADMIN)
    running.emulator.script(running.emulator.device_client.client_id, Scenario(approve_as=ATTACKER))
    with pytest.raises(AccountMismatch) as info:
        runbook.authorize(site, DEVICE_SCOPES, flow="device")
    text = assert_one_line(info.value)
    assert ATTACKER in text and ADMIN in text and "not stored" in text
    assert info.value.exit_code == ExitCode.DENIED
    assert site.profile.load_token() is None
    assert not (site.profile.path / TOKEN_FILE).exists()
    assert site.profile.load_settings()["steps"]["authorize"]["status"] == "failed"


def test_a1_device_pin_matches_case_insensitively(tmp_path: Path, served: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = served(clock=clock)
    site = device_site(tmp_path, running, clock)
    runbook.pin_account(site, "Admin@Example.COM")
    running.emulator.script(running.emulator.device_client.client_id, Scenario(approve_as=ADMIN))
    assert runbook.authorize(site, DEVICE_SCOPES, flow="device").account == ADMIN
    assert site.profile.load_token() is not None


def test_a1_device_unknown_account_is_refused_when_pinned(tmp_path: Path, served: Callable[..., RunningEmulator]) -> None:
    """No openid/email scope: neither the ID token nor tokeninfo names the account, so a pin cannot pass."""
    clock = FakeClock()
    running = served(clock=clock, auto_approve=True)
    site = device_site(tmp_path, running, clock)
    runbook.pin_account(site, ADMIN)
    with pytest.raises(AccountMismatch) as info:
        runbook.authorize(site, ("profile",), flow="device")
    assert "unknown account" in str(info.value) and site.profile.load_token() is None


def test_a1_device_unpinned_shows_the_account(tmp_path: Path, served: Callable[..., RunningEmulator]) -> None:
    clock = FakeClock()
    running = served(clock=clock)
    site = device_site(tmp_path, running, clock)
    running.emulator.script(running.emulator.device_client.client_id, Scenario(approve_as=ATTACKER))
    result = runbook.authorize(site, DEVICE_SCOPES, flow="device")
    assert result.account == ATTACKER and runbook.status(site).account == ATTACKER


def test_a1_desktop_pinned_refuses_another_account(tmp_path: Path, served: Callable[..., RunningEmulator]) -> None:
    running = served(auto_approve=True, account=ATTACKER)
    site = desktop_site(tmp_path, running)
    runbook.pin_account(site, ADMIN)
    with pytest.raises(AccountMismatch) as info:
        runbook.authorize(site, ("openid", "email", CALENDAR), flow="desktop", open_url=browser, timeout=30)
    assert ATTACKER in assert_one_line(info.value) and info.value.exit_code == ExitCode.DENIED
    assert site.profile.load_token() is None


def test_a1_desktop_unpinned_cli_shows_the_account(tmp_path: Path, served: Callable[..., RunningEmulator],
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("webbrowser.open", lambda url: browser(url) or True)
    running = served(auto_approve=True, account=ATTACKER)
    home = tmp_path / "home"
    base = cli_with_desktop_client(tmp_path, running, "a1")
    capsys.readouterr()
    assert cli.run([*base, "authorize", "--service", "calendar", "--service", "openid"]) == 0
    assert ATTACKER in capsys.readouterr().out
    # and pinned, the same approval is refused with exit 4, the old token untouched
    token_file = home / "profiles" / "a1" / TOKEN_FILE
    saved = token_file.read_bytes()
    rc = cli.run([*base, "authorize", "--service", "calendar", "--service", "openid", "--expected-account", ADMIN])
    assert rc == ExitCode.DENIED
    err = capsys.readouterr().err
    assert ATTACKER in err and ADMIN in err and "Traceback" not in err
    assert token_file.read_bytes() == saved


# --- soak: every fault on revoke, and many sessions approved by random accounts ------------------------


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_r1_revoke_faults_full(tmp_path: Path, served: Callable[..., RunningEmulator],
                               soak_report: Callable[[str], None]) -> None:
    started = time.perf_counter()
    faults = ("500", "502", "503", "504", "429", "408", "timeout", "reset", "malformed")
    kept = deleted = already = trials = 0
    for round_ in range(3):
        for fault in faults:
            clock = FakeClock()
            running = served(clock=clock, auto_approve=True)
            running.emulator.timeout_seconds = 0.5
            site = device_site(tmp_path, running, clock, timeout=0.2, name=f"r{round_}-{fault}")
            runbook.authorize(site, DEVICE_SCOPES, flow="device")
            running.emulator.fail_next("/revoke", fault, 1 if fault == "malformed" else 3)  # malformed: no retry
            trials += 1
            try:
                runbook.revoke(site)
            except RunbookError as exc:
                assert "retry" in assert_one_line(exc) and exc.exit_code == ExitCode.NETWORK
                kept += site.profile.load_token() is not None
            else:
                raise AssertionError(f"revoke with 3 x {fault} claimed success")
            if fault == "timeout" and (token := site.profile.load_token()) is not None:
                wait_revoked(running, token.access_token)  # the late requests did revoke at the provider
            result = runbook.revoke(site)  # the second run
            deleted += site.profile.load_token() is None
            already += result is True
    elapsed = time.perf_counter() - started
    soak_report(f"R1 revoke: {kept}/{trials} failed revokes kept the local token and said retry; "
                    f"{deleted}/{trials} second runs succeeded and deleted it ({already} already revoked at the "
                    f"provider); {elapsed:.1f} s (target 100 % kept, 100 % second run exit 0)")
    assert kept == deleted == trials


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_a1_account_pin_full(tmp_path: Path, soak_report: Callable[[str], None]) -> None:
    import random

    started = time.perf_counter()
    rng = random.Random(20251128)
    clock = FakeClock()
    emu = Emulator(clock=clock)
    transport = WsgiTransport(emu.wsgi_app)
    device = emu.device_client
    refused = stored_wrong = shown = mismatches = matches = accepted = 0
    for n in range(200):
        site = runbook.Site(ProfileStore(tmp_path / "soak").profile(f"p{n}"), transport, clock, "http://localhost")
        runbook.save_client(site, client_id=device.client_id, client_secret=device.client_secret,
                            client_type="device")
        pinned = rng.random() < 0.7
        approver = rng.choice([ADMIN, ADMIN.upper(), ATTACKER, "other@example.org"])
        if pinned:
            runbook.pin_account(site, ADMIN)
        emu.script(device.client_id, Scenario(approve_as=approver, approve_after=rng.randint(0, 3)))
        wrong = pinned and approver.lower() != ADMIN
        try:
            result = runbook.authorize(site, DEVICE_SCOPES, flow="device")
        except AccountMismatch as exc:
            assert wrong and approver in str(exc) and exc.exit_code == ExitCode.DENIED
            refused += 1
        else:
            assert not wrong and result.account == approver
            shown += not pinned and runbook.status(site).account == approver
            accepted += 1
        stored_wrong += wrong and site.profile.load_token() is not None
        mismatches += wrong
        matches += not wrong
    elapsed = time.perf_counter() - started
    soak_report(f"A1 account pin: {refused}/{mismatches} tokens from another account refused, {stored_wrong} "
                    f"stored; {accepted}/{matches} others accepted, account shown in {shown} unpinned runs; "
                    f"{elapsed:.1f} s (target 100 % refused, 0 stored)")
    assert refused == mismatches and stored_wrong == 0 and accepted == matches
