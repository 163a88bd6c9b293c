"""Real-browser smoke test: 03_authorize in JupyterLab, approved by a person on the emulator's /device page.

What a person does, in Debian's Chromium driven by Playwright (sync API):

1. a profile in a temporary runbook home holds the emulator's "TVs and Limited Input devices" client and
   the ``openid`` scopes (step 01/02 done through :mod:`gapps_runbook.runbook`); the emulator is served in
   process and does NOT auto-approve;
2. JupyterLab (a subprocess on 127.0.0.1, a random token, Jupyter's config/data/runtime dirs in tmp, no
   network lookups) opens a copy of ``notebooks/03_authorize.ipynb`` whose parameters cell names that
   home, issuer, ``flow = "device"`` and ``services = ["openid"]``;
3. Run > Run All Cells, then "Ask for a code"; the device card shows the user code (read from the page, XXXX-XXXX);
4. a second tab opens ``<emulator>/device``, types the code, Next, Allow;
5. back in the notebook tab, WITHOUT running anything again, the card turns "Authorized" (the kernel's
   background thread polled and its widget updates reached the page) and the code is gone; the profile
   holds a token.

Screenshots of each step go to ``<pytest tmp dir>/screenshots`` (the path is printed on failure).
Skipped only when ``/usr/bin/chromium`` is missing (CI installs Debian's chromium in ``.ci/run``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import runbook
from gapps_runbook.emulator import RunningEmulator

from sites import BROWSER_MARKS, CHROMIUM, CHROMIUM_ARGS, CODE_RE, KERNEL_IDLE, REPO, jupyterlab

NOTEBOOK = REPO / "notebooks" / "03_authorize.ipynb"

pytestmark = BROWSER_MARKS


# --- fixtures ---------------------------------------------------------------------------------


READY_PROFILES = {  # ``home``: steps 01 and 02 done with the emulator's device client, openid scopes, device flow
    "default": {"flow": "device", "services": ("openid",), "product": "gapps-runbook browser test", "workspace": False},
}


def _set_parameters(notebook: Path, target: Path, values: dict[str, Any]) -> None:
    """Copy ``notebook`` to ``target`` with new values in its ``parameters`` cell (comments kept)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    lines = "".join(cell["source"]).splitlines()
    for name, value in values.items():
        pattern = re.compile(rf"^{name}\s*=\s*[^#]*?(\s*#.*)?$")
        hits = [i for i, line in enumerate(lines) if pattern.match(line)]
        assert len(hits) == 1, f"parameter {name!r} not found once in the parameters cell"
        comment = pattern.match(lines[hits[0]]).group(1) or ""  # type: ignore[union-attr]
        lines[hits[0]] = f"{name} = {value!r}{comment}"
    cell["source"] = "\n".join(lines)
    target.write_text(json.dumps(nb, indent=1), encoding="utf-8")


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path


@pytest.fixture
def lab(tmp_path: Path, home: Path) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 with its own Jupyter dirs, no network lookups; terminated at teardown."""
    root = tmp_path / "lab-root"
    root.mkdir()
    with jupyterlab(root, tmp_path / "jupyter", env={"GAPPS_RUNBOOK_HOME": str(home)}) as (url, token, log):
        yield Lab(url, token, root, log)


# --- the test ---------------------------------------------------------------------------------


def test_device_flow_in_jupyterlab_is_approved_in_a_second_tab(
    tmp_path: Path, emu: RunningEmulator, home: Path, lab: Lab
) -> None:
    from playwright.sync_api import expect, sync_playwright

    _set_parameters(NOTEBOOK, lab.root / NOTEBOOK.name, {
        "home": str(home), "issuer": emu.base_url, "services": ["openid"], "flow": "device", "timeout": 120,
    })
    shots = tmp_path / "screenshots"
    shots.mkdir()
    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        notebook = context.new_page()
        steps: list[tuple[str, float]] = []

        def at(name: str) -> str:
            steps.append((name, time.monotonic() - started))
            return name

        step = at("open the notebook")
        try:
            notebook.goto(f"{lab.url}/lab/tree/{NOTEBOOK.name}?token={lab.token}")
            step = at("wait for the kernel to be idle")  # the status bar says "No Kernel | Initializing" first
            expect(notebook.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=60_000)
            notebook.screenshot(path=shots / "1-notebook-open.png")

            step = at("Run > Run All Cells")
            notebook.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=NOTEBOOK.name).click()
            notebook.get_by_role("menuitem", name="Run", exact=True).click()
            notebook.get_by_role("menuitem", name="Run All Cells", exact=True).click()

            step = at("click Ask for a code (opening 03 asks for nothing)")
            notebook.get_by_role("button", name="Ask for a code").click()

            step = at("read the user code from the device card")
            code_box = notebook.locator(".jp-OutputArea-output .widget-html-content div[style*='user-select']")
            expect(code_box).to_have_text(CODE_RE, timeout=45_000)
            code = CODE_RE.search(code_box.inner_text()).group(1)  # type: ignore[union-attr]
            step = at("see that the cell returned (kernel idle) while the card waits")
            expect(notebook.get_by_role("button", name=KERNEL_IDLE)).to_be_visible(timeout=30_000)
            cell = notebook.locator(".jp-CodeCell", has_text="rb.authorize(")
            prompt = cell.locator(".jp-InputArea-prompt").inner_text()
            assert re.fullmatch(r"\[\d+\]:", prompt), f"the authorize cell did not finish: {prompt!r}"
            expect(notebook.get_by_text(re.compile(r"^Code expires in (\d+ min( \d+ s)?|\d+ s) \(until \d\d:\d\d UTC\)$"))).to_be_visible(
                timeout=30_000)  # clock.duration_text: "29 min 58 s", never "0 min"; then the UTC time
            code_box.scroll_into_view_if_needed()
            notebook.screenshot(path=shots / "2-device-card.png")

            step = at("approve in a second tab")
            device = context.new_page()
            device.goto(f"{emu.base_url}/device")
            device.locator("#user_code").fill(code)
            device.get_by_role("button", name="Next").click()
            expect(device.get_by_role("button", name="Allow")).to_be_visible()
            device.screenshot(path=shots / "3-consent.png")
            device.get_by_role("button", name="Allow").click()
            expect(device.get_by_role("heading", name="Success!")).to_be_visible()
            device.screenshot(path=shots / "4-approved.png")

            step = at("wait for Authorized in the notebook tab (no cell run again)")
            notebook.bring_to_front()
            cells = notebook.locator(".jp-NotebookPanel .jp-Notebook")
            form = cells.locator(".gapps-form")  # the live form (its static summary is hidden while it lives)
            expect(form.get_by_text("Authorized", exact=True)).to_be_visible(timeout=60_000)
            expect(form.get_by_text("engineer@example.com")).to_be_visible()
            expect(form.get_by_text(re.compile(r"^Status: "))).to_have_count(0)  # the wait's lines go with the code
            expect(form.get_by_role("button", name="Cancel")).to_have_count(0)  # nothing left to cancel
            notebook.screenshot(path=shots / "5-authorized.png")
            assert code_box.count() == 0 and code not in cells.inner_text(), "the user code is still on the page"
            assert cell.locator(".jp-InputArea-prompt").inner_text() == prompt, "the authorize cell was run again"
            shown = cells.inner_text()
        except Exception:
            for number, page in enumerate(context.pages):
                try:
                    page.screenshot(path=shots / f"failed-tab{number}.png")
                except Exception:  # noqa: BLE001 - best effort
                    pass
            timings = ", ".join(f"{name} @{t:.1f}s" for name, t in steps)
            print(f"\nbrowser test failed at step {step!r} ({timings}); screenshots in {shots}; "
                  f"JupyterLab log {lab.log}")
            raise
        finally:
            browser.close()
    token = runbook.Site.open("default", home=home).profile.load_token()
    assert token is not None, "the page said Authorized but the profile has no token"
    assert f"token id {token.token_id}" in shown and token.account == "engineer@example.com"
    assert "openid" in token.scopes
    print(f"\nbrowser flow took {time.monotonic() - started:.1f} s; screenshots in {shots}")
