"""Issue 10, notebook 05 (backup and restore): the form, the headless run, 00's export row, the step list.

scrypt costs about 1.3 s per export or import (pyrage's default work factor), so the form test does
one export and three imports, and the papermill test one export and one import.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

import ipywidgets as w
import nbformat
import pytest

from gapps_runbook import cli, runbook
from gapps_runbook import notebook as rb
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.errors import ExitCode, InputError
from gapps_runbook.notebook import backup_actions, step05
from gapps_runbook.runbook import state
from gapps_runbook.steps import BACKUP
from gapps_runbook.views import backup as render_backup
from gapps_runbook.views import render
from gapps_runbook.profile.store import ProfileStore
from tools import render_notebooks
from gapps_runbook.runs.step_notebooks import resolve_step
from gapps_runbook.safety.leakscan import format_findings, scan_paths, scan_text
from gapps_runbook.steps import STEPS, find_step

from sites import authorized_site

PASSPHRASE = "correct horse battery staple 05"
CALENDAR = "https://www.googleapis.com/auth/calendar.readonly"


EMULATOR_OPTIONS = {"auto_approve": True}  # conftest's ``emulator``: the consent is given at once


def canaries(site: runbook.Site) -> list[str]:
    token, client = site.token(), site.client()
    return [PASSPHRASE, token.refresh_token or "", token.access_token, client.client_secret]


def widget_state(form: step05.BackupRestoreForm) -> str:
    """Every widget's synced state, as Jupyter would save it with the notebook."""
    stack, states = [form.box], []
    while stack:
        widget = stack.pop()
        states.append(widget.get_state())
        stack.extend(c for c in getattr(widget, "children", ()) if isinstance(c, w.Widget))
    return json.dumps(states, default=str)


def test_the_form_exports_then_imports_and_the_passphrase_never_stays(tmp_path: Path, emulator: RunningEmulator,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    site = authorized_site(tmp_path / "a", emulator)
    secrets = canaries(site)
    monkeypatch.chdir(tmp_path)  # the server's working folder: a name typed in the form does not land here
    folder = (tmp_path / "a" / "exports").absolute()
    out = folder / "site-a.age"
    form = step05.BackupRestoreForm(ProfileStore(tmp_path / "a"), profile="site-a")
    assert form.profiles.value == ("site-a",) and "never exported" in form.last.value
    assert form.target.value == str(out) and not folder.exists()  # the full path, made only by an export
    form.target.value, form.passphrase.value, form.confirmation.value = "site-a.age", "blue guitar", "blue guitar"
    form.export.click()
    shown = html_text(form.exported.value)  # beside Export
    assert "scores 2 of 4" in shown and "at least 3" in shown and "in Passphrase and Again" in shown
    assert "--passphrase" not in shown and not out.exists() and form.passphrase.value == ""
    form.passphrase.value, form.confirmation.value = PASSPHRASE, PASSPHRASE + "x"
    form.export.click()
    assert "the two passphrases differ" in form.exported.value and not out.exists()
    assert form.passphrase.value == form.confirmation.value == ""  # emptied after a refused click too
    form.passphrase.value = form.confirmation.value = PASSPHRASE
    form.export.click()
    assert "Error" not in form.exported.value and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and not (tmp_path / "site-a.age").exists()
    assert form.target.value == str(out)  # the name typed, now its full path
    assert f"<code style='user-select:all'>{out}</code>" in form.exported.value and " at 20" in form.exported.value
    assert form.passphrase.value == form.confirmation.value == ""
    assert "exported 20" in form.last.value and str(out) in form.last.value
    assert scan_text("site-a.age", out.read_bytes(), secrets) == []

    restored = step05.BackupRestoreForm(ProfileStore(tmp_path / "b"))
    restored.source.value, restored.import_passphrase.value = str(out), PASSPHRASE
    restored.import_.click()
    assert "refreshed: it works" in restored.imported.value and restored.import_passphrase.value == ""
    assert restored.profiles.options == ("site-a",)
    restored.import_passphrase.value = PASSPHRASE
    restored.import_.click()  # exists: Replace is not ticked; the fix names the form's controls, not flags
    shown = html_text(restored.imported.value)  # beside Import
    assert "already exists" in shown and "tick Replace" in shown and "type a new name in Import as profile" in shown
    assert "--" not in shown and restored.import_passphrase.value == "" and "Imported" not in shown
    restored.import_passphrase.value, restored.import_as.value = PASSPHRASE, "site-a-copy"
    restored.import_.click()  # under a new name
    assert "Imported site-a-copy from" in restored.imported.value and "site-a-copy: the restored token refreshed" \
        in restored.imported.value
    assert restored.profiles.options == ("site-a", "site-a-copy")
    restored.import_passphrase.value = "tangerine ocean lighthouse"
    restored.import_.click()  # a wrong passphrase: its own line, the fix on the form's words
    shown = html_text(restored.imported.value)
    assert "the passphrase does not open this export" in shown and "made with in Passphrase" in shown
    assert "[redacted]" not in shown and "not an export" not in shown
    restored.import_as.value = ""
    runbook.revoke(site)
    restored.import_passphrase.value, restored.force.value = PASSPHRASE, True
    restored.import_.click()  # the staged token is probed before it replaces the profile: refused, nothing replaced
    shown = html_text(restored.imported.value)
    assert "was not replaced and is untouched" in shown and "revoked" in shown and "runbook step 03" in shown
    assert "Import as profile" in shown and "--profile" not in shown
    for built in (form, restored):
        assert "Traceback" not in built.message.value + built.exported.value + built.imported.value
        assert scan_text("widgets.json", widget_state(built), secrets) == [], "a widget kept a secret"


def html_text(value: str) -> str:
    import html

    return html.unescape(value)


def test_every_form_callback_is_guarded() -> None:
    form = step05.BackupRestoreForm(ProfileStore(Path("/nonexistent-gapps-runbook-home")))
    handlers = [h for b in (form.export, form.import_) for h in b._click_handlers.callbacks]
    assert len(handlers) == 2 and all(hasattr(h, "__wrapped__") for h in handlers)
    form.export.click()  # no profile chosen: one line, no traceback
    assert "no profile was chosen" in form.exported.value and "Fix:" in form.exported.value  # beside Export


@pytest.mark.notebook
def test_run_05_exports_0600_through_papermill_and_imports_back_without_leaks(
        tmp_path: Path, emulator: RunningEmulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    site = authorized_site(tmp_path / "a", emulator)
    secrets = canaries(site)
    monkeypatch.setenv("BACKUP_PASSPHRASE", PASSPHRASE)
    out, runs = tmp_path / "sites.age", tmp_path / "runs"
    rc = cli.run(["--home", str(tmp_path / "a"), "--profile", "site-a", "run", "05", "-p", "export_to", str(out),
                  "-p", "passphrase_env", "BACKUP_PASSPHRASE", "--out", str(runs)])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "05_backup_restore: ok" in printed.out and f"Exported site-a to {out}" in printed.out
    rc = cli.run(["--home", str(tmp_path / "b"), "--profile", "site-a", "run", "backup", "-p", "import_from", str(out),
                  "-p", "passphrase_env", "BACKUP_PASSPHRASE", "--out", str(runs)])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert "site-a: the restored token refreshed: it works." in printed.out
    assert ProfileStore(tmp_path / "b").profile("site-a").load_token() is not None
    executed = sorted(runs.glob("run-05_backup_restore-*/05_backup_restore.ipynb"))
    assert len(executed) == 2
    findings = scan_paths([runs], secrets)
    assert not findings, format_findings(findings)
    assert scan_text("stdout", printed.out + printed.err, secrets) == []
    for path in executed:
        book = nbformat.read(path, as_version=4)
        assert "widgets" not in book.metadata and "BACKUP_PASSPHRASE" not in json.dumps(book.metadata)
    rb.start_here(profile="site-a", home=str(tmp_path / "a"), interactive=False)
    overview = capsys.readouterr().out
    row = next(line for line in overview.splitlines() if line.startswith("05 Backup and restore:"))
    assert row.split(":", 1)[1].split()[:2] == ["ok:", "exported"] and f" to {out.resolve()} [" in row


def test_a_passphrase_as_a_parameter_is_refused_before_any_kernel(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.run(["--home", str(tmp_path), "run", "05", "-p", "passphrase", "hunter2 hunter2", "-p", "export_to",
                  str(tmp_path / "x.age"), "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert rc == ExitCode.BAD_INPUT and "passphrase" in err and "hunter2" not in err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "x.age").exists()
    with pytest.raises(InputError) as refused:  # the entry point checks its own references too
        rb.backup_restore(home=str(tmp_path / "h"), interactive=False, export_to=str(tmp_path / "x.age"),
                          passphrase_env="GOCSPX-" + "a1B2" * 7)
    assert "passphrase_env" in str(refused.value) and "GOCSPX-" not in str(refused.value)


def test_headless_without_an_action_shows_each_profiles_last_export(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = ProfileStore(tmp_path)
    store.profile("site-a").update_settings(lambda s: s.update(issuer="https://example.test"))
    store.profile("site-b").update_settings(lambda s: s.update(
        last_export={"at": "2026-01-02T03:04:05+00:00", "file": "/backups/b.age", "by": "ops"}))
    rb.backup_restore(profile="site-a", home=str(tmp_path), interactive=False)
    shown = capsys.readouterr().out.splitlines()
    assert shown == ["site-a: never exported", "site-b: exported 2026-01-02 03:04 UTC to /backups/b.age by ops"]


def test_00_and_status_all_word_the_last_export_once() -> None:
    record = {"at": "2026-01-02T03:04:05+00:00", "file": "/backups/b.age", "by": "ops"}
    words = "exported 2026-01-02 03:04 UTC to /backups/b.age by ops"  # a short time that does not wrap
    assert render_backup.export_text(record) == words and render_backup.export_text(None) == "never exported"
    status = runbook.TokenStatus("b", None, None, None, (), (), None, False, None)
    exported = state.StepState(BACKUP, "ok", "exported to /backups/b.age", record["at"], "ops")
    current = state.SiteState("b", "", "", (exported,), status, state.health(status), {}, record, 0.0)
    assert render.overview_rows(current)[-1][0] == "05 Backup and restore"
    assert "to /backups/b.age" in render.overview_rows(current)[-1][1]
    assert "05_backup_restore.ipynb" in render.overview_html(current)
    assert render.profile_line(current).endswith(words)


def test_step_05_is_in_the_one_step_list_and_everything_that_iterates_it() -> None:
    step = find_step("backup")
    assert step is not None and step is find_step("restore") is find_step("05") is find_step("5")
    assert (step.number, step.notebook, step.title) == ("05", "05_backup_restore", "backup and restore")
    assert resolve_step("05").is_file()
    assert render_notebooks.NAMES == tuple(s.notebook for s in STEPS) and render_notebooks.NAMES[-1] == step.notebook
    assert callable(rb.backup_restore) and backup_actions.REAUTHORIZE_CAUSES.count("7 days") == 1
