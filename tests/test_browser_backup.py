"""Step 05 in a real browser, on both surfaces: JupyterLab's notebook 05 and the app's page 05.

One home holds ``site-a``, authorized (Desktop app flow against the emulator) with its workspace. On each surface
a person, with the browser alone:

a. (JupyterLab) types a file name without a folder and a weak passphrase: refused, saying the minimum (3 of 4)
   in the form's words; with a strong one the export lands in ``<home>/exports`` (0700; the file 0600), its
   full path shown, never in the notebook's folder (the server's working folder); then imports that file
   under a new name ("Import as profile"), whose restored token refreshes (``05_backup_restore.png``);
b. (the app) exports with the default file: it lands under the runbook home, never in the installed package
   (the Voilà root), its full path on the page; importing it again without a new name is refused with "tick
   Replace" (``app_05_replace_or_a_new_name.png``), then done under a new name
   (``app_05_imported_under_a_new_name.png``).

Each export and import costs one scrypt (about 1-3 s here). Skipped only when ``/usr/bin/chromium`` is missing.
"""

from __future__ import annotations

import re
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import gapps_runbook
from gapps_runbook.profile.store import ProfileStore
from gapps_runbook.runs.step_notebooks import notebooks_dir
from gapps_runbook.runs.workspace import prepare

from app_browser import app, move, open_app  # noqa: F401 (app: a fixture)
from sites import BROWSER_MARKS, LONG, authorized_ready_site, open_and_run, shoot

pytestmark = BROWSER_MARKS
STRONG = "correct horse battery staple 05"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, emu: Any) -> Path:  # noqa: F811
    """``site-a``: steps 01-03 done (Desktop app flow, Calendar + openid) and its workspace, as ``lab`` makes it."""
    home = tmp_path_factory.mktemp("backup") / "home"
    authorized_ready_site(home, emu, "site-a")
    prepare("site-a", home=home, issuer=emu.base_url, templates=notebooks_dir())
    return home


@pytest.fixture(scope="module")
def ready_home(home: Path) -> Path:
    """What ``lab`` and ``app`` serve: this module's ``home``."""
    return home


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:  # noqa: F811
    """A fresh page, closed as a person closes a tab; a screenshot beside the test's files on failure."""
    page = chromium.new_page()
    yield page
    if getattr(request.node, "failed", False) or sys.exc_info()[0] is not None:
        page.screenshot(path=str(tmp_path / f"{request.node.name}.png"))
    if not page.is_closed():
        page.close(run_before_unload=True)


def export_and_import(panel: Any, target: Path, new_name: str, *, refuse_existing: bool = False,
                      shot: Callable[[], None] | None = None) -> None:
    """Export ``site-a`` to the file box's current value (``target`` once resolved), then import it as ``new_name``."""
    from playwright.sync_api import expect

    passphrase = panel.get_by_label("Passphrase", exact=True)
    passphrase.first.fill(STRONG)
    panel.get_by_label("Again", exact=True).fill(STRONG)
    panel.get_by_role("button", name="Export").click()
    expect(panel.locator("code", has_text=str(target)).filter(visible=True).first).to_be_visible(timeout=LONG)
    expect(panel.get_by_label("Export to", exact=True)).to_have_value(str(target))
    panel.get_by_label("Import from", exact=True).fill(str(target))
    if refuse_existing:
        passphrase.nth(1).fill(STRONG)
        panel.get_by_role("button", name="Import").click()
        refusal = panel.get_by_text(re.compile(r"already exists; nothing was imported")).filter(visible=True)
        expect(refusal).to_contain_text("tick Replace to replace it, or type a new name in Import as profile",
                                        timeout=LONG)
        expect(refusal).not_to_contain_text("--")
        if shot is not None:
            shot()
    passphrase.nth(1).fill(STRONG)
    panel.get_by_label("Import as profile", exact=True).fill(new_name)
    panel.get_by_role("button", name="Import").click()
    expect(panel.get_by_text(f"{new_name}: the restored token refreshed: it works.").filter(visible=True)) \
        .to_be_visible(timeout=LONG)
    expect(passphrase.first).to_have_value("")
    expect(passphrase.nth(1)).to_have_value("")


def test_a_jupyterlab_05_exports_under_the_home_and_imports_under_a_new_name(
        page: Any, lab: dict[str, Any], home: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect

    panel = open_and_run(page, lab, "site-a/05_backup_restore.ipynb")
    folder = home.absolute() / "exports"
    expect(panel.get_by_label("Export to", exact=True)).to_have_value(str(folder / "site-a.age"))
    panel.get_by_label("Export to", exact=True).fill("lab-sites.age")
    panel.get_by_label("Passphrase", exact=True).first.fill("blue guitar")
    panel.get_by_label("Again", exact=True).fill("blue guitar")
    panel.get_by_role("button", name="Export").click()
    refusal = panel.get_by_text(re.compile("the passphrase is too weak")).filter(visible=True)
    expect(refusal).to_contain_text("scores 2 of 4 on zxcvbn's scale, and an export needs at least 3", timeout=LONG)
    expect(refusal).to_contain_text("in Passphrase and Again")
    assert not folder.exists() or list(folder.iterdir()) == []

    export_and_import(panel, folder / "lab-sites.age", "site-a-lab")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "lab-sites.age").stat().st_mode) == 0o600
    assert list((home / "workspaces").rglob("*.age")) == []  # not in the notebook's (the server's) folder
    assert ProfileStore(home).profile("site-a-lab").load_token() is not None
    shoot(page, "05_backup_restore")


def test_b_the_apps_05_export_lands_under_the_home_and_imports_under_a_new_name(
        page: Any, app: dict[str, Any], home: Path) -> None:  # noqa: F811
    open_app(page, app["url"])
    for index in range(1, 6):
        move(page, "Next", index)
    panel = page.locator(".gapps-app")
    target = home.absolute() / "exports" / "site-a.age"
    export_and_import(panel, target, "site-a-app", refuse_existing=True,
                      shot=lambda: shoot(page, "app_05_replace_or_a_new_name", focus=None))
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert list(Path(gapps_runbook.__file__).parent.rglob("*.age")) == []  # not in the package (the Voilà root)
    assert ProfileStore(home).profile("site-a-app").load_token() is not None
    shoot(page, "app_05_imported_under_a_new_name", focus=None)
