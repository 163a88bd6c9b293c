"""``gapps-runbook demo``: the whole procedure on the embedded emulator, in one command.

No Google account is needed: the emulator runs on loopback, approves automatically, and the
profile lives in the run folder, never in the user's real configuration.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from pathlib import Path

import requests

from . import runbook, scopes
from .emulator import Emulator, serve
from .errors import RunbookError

Echo = Callable[[str], None]


def browser_for_emulator(url: str) -> None:
    """Play the person's browser: open the link; the auto-approving emulator redirects to the listener.

    It runs in a thread because the loopback listener answers only after this call returns.
    """
    threading.Thread(target=requests.get, args=(url,), kwargs={"timeout": 30}, daemon=True).start()


def new_run_dir(out: Path, name: str) -> Path:
    """A fresh, timestamped folder under ``out``."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = out / f"{name}-{stamp}"
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = out / f"{name}-{stamp}-{suffix}"
    run_dir.mkdir(parents=True, mode=0o700)
    return run_dir


def run_demo(out: Path, *, echo: Echo = print) -> Path:
    """Run steps 01-04 for a Calendar integration, then the device flow where Google allows it."""
    run_dir = new_run_dir(out, "demo")
    with serve(Emulator(auto_approve=True)) as running:
        echo(f"Embedded Google emulator at {running.base_url} (offline; no Google account needed).")
        echo(f"Profiles for this run live in {run_dir / 'home'}.\n")
        site = runbook.Site.open("demo-site", home=run_dir / "home", issuer=running.base_url)
        requested = scopes.scopes_for(("calendar", "openid"))
        _step_console(site, requested, echo)
        desktop = running.emulator.desktop_client
        _step_client(site, desktop.client_id, desktop.client_secret, "desktop", echo)
        echo("Step 03  Authorize (Desktop app loopback flow, PKCE S256)")
        result = runbook.authorize(site, requested, flow="desktop", open_url=browser_for_emulator, timeout=60)
        echo(f"         authorized by {result.account}")
        _step_status(site, echo)
        _device_example(running, run_dir, echo)
    echo(f"\nDone. Everything this run wrote is in {run_dir}.")
    return run_dir


def _step_console(site: runbook.Site, requested: tuple[str, ...], echo: Echo) -> None:
    echo("Step 01  Console checklist and preflight")
    legacy = scopes.preflight(requested, flow="device", endpoints=site.endpoints)
    for finding in legacy.findings:
        if finding.level == "error":
            echo(f"         The vendor procedure's device flow: {finding.message}")
    verdict = runbook.check_console(site, requested, flow="auto", publishing_status="production")
    runbook.raise_for_preflight(verdict)
    echo(f"         Verdict: {verdict.flow} flow with a '{_console_type(verdict.client_type)}' client.")


def _console_type(client_type: str) -> str:
    return "TVs and Limited Input devices" if client_type == "device" else "Desktop app"


def _step_client(site: runbook.Site, client_id: str, secret: str, client_type: str, echo: Echo) -> None:
    echo("Step 02  Client credentials")
    runbook.save_client(site, client_id=client_id, client_secret=secret, client_type=client_type,  # type: ignore[arg-type]
                        product_name="gapps-runbook demo")
    echo(f"         saved client {client_id} (secret kept in the profile, 0600)")


def _step_status(site: runbook.Site, echo: Echo) -> None:
    echo("Step 04  Token status")
    st = runbook.status(site)
    echo(f"         token id {st.token_id}, expires in {st.expires_in} s")
    echo(f"         scopes: {' '.join(st.scopes)}")
    for check in runbook.verify(site).checks:
        echo(f"         verify {check.api} {check.call}: expected {check.expected}, got {check.outcome}"
             f" -> {'OK' if check.ok else 'FAILED'}")
    runbook.refresh(site)
    echo(f"         refreshed: token id {runbook.status(site).token_id}, expires in {runbook.status(site).expires_in} s")


def _device_example(running: object, run_dir: Path, echo: Echo) -> None:
    """The device flow, with scopes Google still allows for it (OpenID email)."""
    echo("\nAlso: the device flow ('TVs and Limited Input devices'), for scopes Google allows in it")
    site = runbook.Site.open("demo-device", home=run_dir / "home", issuer=running.base_url)  # type: ignore[attr-defined]
    device = running.emulator.device_client  # type: ignore[attr-defined]
    runbook.save_client(site, client_id=device.client_id, client_secret=device.client_secret, client_type="device")
    requested = scopes.scopes_for(("openid",))
    try:
        result = runbook.authorize(
            site, requested, flow="device", timeout=60,
            on_device_code=lambda g: echo(f"         open {g.verification_uri} and enter {g.user_code}"),
        )
    except RunbookError as exc:
        echo(f"         device flow failed: {exc}")
        raise
    st = runbook.status(site)
    echo(f"         authorized by {result.account}: token id {st.token_id}, expires in {st.expires_in} s")
