"""``gapps-runbook demo``: the whole procedure on the embedded emulator, in one command.

No Google account is needed: the emulator runs on loopback and approves automatically. The demo
runs the notebooks 01 to 04 headless (papermill), as automation would, into a run folder with the
executed notebooks and one HTML report. The profile lives in a throwaway folder, never in the run
folder nor in the user's real configuration, so the run folder holds no secret.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

from ..emulator import PRODUCT_NAME, Emulator, serve
from .step_notebooks import StepRun, private_home, run_steps
from .report import FlowRun, write_report
from .summary import summarize

Echo = Callable[[str], None]
SECRET_ENV = "GAPPS_DEMO_CLIENT_SECRET"
DEVICE_SECRET_ENV = "GAPPS_DEMO_DEVICE_CLIENT_SECRET"


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


def run_demo(out: Path, *, echo: Echo = print, emulator: Emulator | None = None) -> Path:
    """Run notebooks 01-04 for a Calendar and Contacts integration, then 01-04 with the device flow where
    Google allows it.

    The report (:func:`report.write_report`) opens with a summary of both sites read back from their
    profiles, then one section per flow; the same summary is echoed at the end.

    Args:
        out: Where the run folder is created.
        echo: Where progress lines go.
        emulator: The emulator to serve (tests plant canary secrets); an auto-approving one by default.

    Raises:
        NotebookRunError: a step failed; its scrubbed notebook and the report are still written.
    """
    run_dir = new_run_dir(out, "demo")
    started = time.time()
    with private_home() as home, serve(emulator or Emulator(auto_approve=True)) as running:
        emu = running.emulator
        env = {SECRET_ENV: emu.desktop_client.client_secret, DEVICE_SECRET_ENV: emu.device_client.client_secret}
        secrets = tuple(env.values())
        echo(f"Embedded Google emulator at {running.base_url} (offline; no Google account needed).")
        echo("Calendar and Contacts integration, Desktop app loopback flow "
             "(the device flow rejects Calendar and Contacts scopes):")
        site = {"profile": "demo-site", "home": home, "issuer": running.base_url, "interactive": False}
        flows = [(site, run_steps(_calendar_plan(site, emu), run_dir, env=env, secrets=secrets, echo=echo))]
        if all(s.error is None for s in flows[0][1]):
            echo("Device flow ('TVs and Limited Input devices'), for a scope Google allows in it:")
            device = {**site, "profile": "demo-device"}
            flows.append((device, run_steps(_device_plan(device, emu), run_dir / "device-flow", env=env,
                                            secrets=secrets, echo=echo)))
        runs = [_flow_run(params, steps, started) for params, steps in flows]
        report = write_report(runs, run_dir / "report.html", title="gapps-runbook demo", secrets=secrets)
    for flow in runs:
        echo(f"\n{flow.summary.title}")
        echo("\n".join(f"  {label}: {value}" for label, value in flow.summary.rows()[2:]))
    echo(f"\nExecuted notebooks and the report: {run_dir}\nReport: {report}")
    for _, steps in flows:
        for step in steps:
            if step.error is not None:
                raise step.error
    return run_dir


def _flow_run(site: dict[str, object], steps: list[StepRun], started: float) -> FlowRun:
    """One flow's part of the report: the summary read back from its profile, its lines and notebooks."""
    summary = summarize(site, [(s.step, s.error) for s in steps], started=started)
    notebooks = [(s.output_path, s.parameters) for s in steps if s.output_path is not None]
    return FlowRun(summary, [s.line for s in steps], notebooks)


def _calendar_plan(site: dict[str, object], emu: Emulator) -> list[tuple[str, dict[str, object]]]:
    return [
        ("01_console_checklist", {**site, "services": ["calendar", "contacts", "openid"],
                                  "publishing_status": "production"}),
        ("02_client_credentials", {**site, "client_id": emu.desktop_client.client_id, "client_type": "desktop",
                                   "client_secret_env": SECRET_ENV, "product_name": PRODUCT_NAME}),
        ("03_authorize", {**site, "browser": "emulator", "timeout": 120}),
        ("04_token_status", {**site, "verify": True, "refresh": True}),
    ]


def _device_plan(site: dict[str, object], emu: Emulator) -> list[tuple[str, dict[str, object]]]:
    return [
        ("01_console_checklist", {**site, "services": ["openid"], "flow": "device", "publishing_status": "production"}),
        ("02_client_credentials", {**site, "client_id": emu.device_client.client_id, "client_type": "device",
                                   "client_secret_env": DEVICE_SECRET_ENV, "product_name": PRODUCT_NAME}),
        ("03_authorize", {**site, "flow": "device", "timeout": 120}),
        ("04_token_status", {**site, "verify": False}),
    ]
