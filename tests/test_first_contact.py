"""First contact, without a browser: a workspace's own JupyterLab config, and a form's scroll into view.

The browser half (no news toast seen, each form in view after Run All) is tests/test_browser_first_contact.py.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from gapps_runbook.notebook.display import SCROLL_WITHIN_MS, scroll_bundle
from gapps_runbook.runs import workspace
from gapps_runbook.runs.step_notebooks import notebooks_dir


def test_a_workspace_carries_its_own_lab_config_with_the_news_plugin_off(tmp_path: Path) -> None:
    made = workspace.prepare("site-a", home=tmp_path / "home", issuer="", templates=notebooks_dir())
    labconfig = workspace.lab_config_dir(made.folder) / "labconfig"
    page = json.loads((labconfig / "page_config.json").read_text())
    assert page["disabledExtensions"] == {workspace.ANNOUNCEMENTS: True}
    overrides = json.loads((labconfig / "default_setting_overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"] == {"fetchNews": "false", "checkForUpdates": False}
    assert stat.S_IMODE(labconfig.stat().st_mode) == 0o700
    assert stat.S_IMODE((labconfig / "page_config.json").stat().st_mode) == 0o600
    assert ".jupyter" not in made.created + made.kept  # not a notebook: never reported as one
    (labconfig / "page_config.json").write_text("{}")
    workspace.prepare("site-a", home=tmp_path / "home", issuer="", templates=notebooks_dir())
    assert json.loads((labconfig / "page_config.json").read_text()) == page  # the runbook's, written again


def test_lab_server_reads_the_workspace_config_first_and_jupyterlab_takes_it(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("jupyterlab")
    from jupyter_server.services.config.manager import ConfigManager
    from jupyterlab_server.config import get_static_page_config

    from gapps_runbook.runs.lab_server import use_workspace_config

    made = workspace.prepare("site-a", home=tmp_path / "home", issuer="", templates=notebooks_dir())
    user = tmp_path / "user-config"
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(user))
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "/elsewhere")
    environ = {"JUPYTER_CONFIG_PATH": "/elsewhere"}
    use_workspace_config(["--ServerApp.ip=127.0.0.1"], environ)
    assert environ == {"JUPYTER_CONFIG_PATH": "/elsewhere"}  # no workspace served: nothing changes
    use_workspace_config([f"--ServerApp.root_dir={made.folder}"], environ)
    assert environ["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(workspace.lab_config_dir(made.folder)), "/elsewhere"]

    monkeypatch.setenv("JUPYTER_CONFIG_PATH", environ["JUPYTER_CONFIG_PATH"])
    assert get_static_page_config(level="all")["disabledExtensions"].get(workspace.ANNOUNCEMENTS) is True
    labconfig = ConfigManager(config_dir_name="labconfig")  # where JupyterLab reads default setting overrides
    assert labconfig.get("default_setting_overrides")["@jupyterlab/apputils-extension:notification"]["fetchNews"] \
        == "false"
    assert not user.exists()  # the user's own Jupyter folder is never written


def test_the_scroll_output_is_hidden_and_acts_only_when_just_shown() -> None:
    bundle = scroll_bundle(1_700_000_000.0)
    html = bundle["text/html"]
    assert bundle["text/plain"] == ""
    assert "display:none" in html and "class='gapps-scroll'" in html
    assert f"Date.now()-1700000000000>{SCROLL_WITHIN_MS}" in html  # a notebook reopened later does not move
    assert "scrollIntoView({block:'start'})" in html and "closest('.jp-Cell')" in html
