"""``gapps-runbook app``'s command and server set-up, without a browser (tests/test_browser_app.py drives it).

Refusals are one line with a fix and an exit code (a busy port, Voilà missing); the server listens on
loopback only, preheats nothing and culls; Voilà's lab template's CDN stylesheets are removed from the page;
the app notebook ships with the package; voila is declared and pinned.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gapps_runbook.commands import app as app_command
from gapps_runbook.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_a_busy_port_is_one_line_with_the_fix_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "gapps_runbook", "--home", str(tmp_path), "app",
                                 "--no-browser", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: port {port} on 127.0.0.1 is taken. Fix: pass another "
                                                  "--port N, or leave it out"]
    assert "Traceback" not in result.stderr + result.stdout


def test_voila_missing_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_command.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match=r"not installed.*gapps-runbook\[app\]"):
        app_command.check_can_serve(None)


def test_the_server_listens_on_loopback_preheats_nothing_and_culls() -> None:
    from gapps_runbook.app.voila_server import voila_argv

    notebook = app_command.app_notebook()
    assert notebook.is_file()
    argv = voila_argv(str(notebook), 8899)
    assert argv[0] == str(notebook)
    assert {"--Voila.ip=127.0.0.1", "--Voila.port=8899", "--Voila.port_retries=0", "--Voila.open_browser=False",
            "--VoilaConfiguration.preheat_kernel=False", "--MappingKernelManager.cull_connected=False"} <= set(argv)


def test_the_lab_templates_cdn_stylesheets_are_removed_and_local_ones_kept() -> None:
    from jupyter_core.paths import jupyter_path

    from gapps_runbook.app.voila_server import REMOTE_TAG

    template = next(Path(p) / "index.html.j2" for p in jupyter_path("voila", "templates", "lab")
                    if (Path(p) / "index.html.j2").is_file())
    text = template.read_text(encoding="utf-8")
    assert "https://cdn.jsdelivr.net" in text  # what Voilà 0.5.13's page would fetch
    cleaned = REMOTE_TAG.sub("", text)
    assert "cdn.jsdelivr.net" not in cleaned
    assert not re.search(r"""<(link|script)\b[^>]*\b(href|src)=["']https?://""", cleaned)
    local = '<link rel="stylesheet" href="/voila/static/index.css" type="text/css" />'
    assert REMOTE_TAG.sub("", local) == local


def test_voila_is_declared_and_pinned() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert any(d.startswith("voila>=") for d in extras["app"])
    assert any("app" in d for d in extras["test"] if d.startswith("gapps-runbook["))
    assert "voila==0.5.13" in (ROOT / "constraints.txt").read_text().splitlines()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "app/app.ipynb" in package_data["gapps_runbook"]
