"""Step 05's messages: one wording source, each surface in its own words; the passphrase strength rule;
a wrong passphrase, a changed file and a file that is not an export told apart; the exports folder.

The vocabulary and the strength rule are pure (no scrypt). The three refusals of a real age file cost
one scrypt each (about 1-3 s on a loaded 2-core machine), from one export made once for the module.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from gapps_runbook import cli
from gapps_runbook.errors import ExitCode, InputError, RunbookError
from gapps_runbook.notebook import backup_actions
from gapps_runbook.profile import backup
from gapps_runbook.profile.handoff import EXPORTS_FOLDER, exports_folder, form_target
from gapps_runbook.profile.store import ProfileStore

PASSPHRASE = "correct horse battery staple 16"
WRONG = "tangerine ocean lighthouse 16"


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One export of a settings-only profile (one scrypt), shared by the refusal tests."""
    store = ProfileStore(tmp_path_factory.mktemp("export") / "home")
    store.profile("site-a").update_settings(lambda s: s.update(issuer="https://example.test"))
    return backup.export_bytes([store.profile("site-a")], PASSPHRASE)


@pytest.fixture()
def home(tmp_path: Path) -> Iterator[Path]:
    """A home with profile ``site-a`` (settings only: enough to export and to be replaced)."""
    store = ProfileStore(tmp_path / "home")
    store.profile("site-a").update_settings(lambda s: s.update(issuer="https://example.test"))
    yield store.home


# --- one wording source, two vocabularies ------------------------------------------------------------------


def test_every_action_is_worded_for_every_surface_and_each_surface_names_its_own_controls() -> None:
    for key, words in backup.ACTIONS.items():
        assert set(words) == set(backup.SURFACES), key
        assert "--" not in words["form"] and " -p " not in words["form"], f"{key}: a flag on the form"
        assert not any(label in words["cli"] for label in ("Import as profile", "tick ")), f"{key}: a control on the CLI"
    fix = backup.fixes("{replace} to replace it, or {rename}")
    assert fix["cli"] == "pass --force to replace it, or pass --profile NEW-NAME"
    assert fix["form"] == "tick Replace to replace it, or type a new name in Import as profile"
    assert fix["run"] == "pass -p force true to replace it, or pass -p import_as NEW-NAME"


def test_an_error_carries_its_fix_for_each_surface_and_prints_the_clis_unless_told() -> None:
    error = InputError("profile 'site-a' already exists", fixes=backup.fixes("{replace}"))
    assert str(error) == "profile 'site-a' already exists. Fix: pass --force"
    assert str(error.worded_for("form")) == "profile 'site-a' already exists. Fix: tick Replace"
    assert str(error.worded_for("elsewhere")) == "profile 'site-a' already exists. Fix: tick Replace"  # kept
    plain = RunbookError("x", fix="do y")
    assert plain.fixes == {} and str(plain.worded_for("form")) == "x. Fix: do y"


def test_an_existing_profile_is_refused_with_the_forms_controls_or_the_clis_flags(
        home: Path, export: bytes, tmp_path: Path) -> None:
    store = ProfileStore(home)
    with pytest.raises(InputError) as refused:
        backup.import_bytes(export, PASSPHRASE, store)
    assert "already exists" in refused.value.message
    assert refused.value.fix == "pass --force to replace it, or pass --profile NEW-NAME"
    assert refused.value.worded_for("form").fix == "tick Replace to replace it, or type a new name in Import as profile"
    with pytest.raises(InputError) as bad_name:  # checked before any scrypt: the bytes are not even read
        backup.import_bytes(b"", PASSPHRASE, store, profile="../x")
    assert "Import as profile" in bad_name.value.worded_for("form").fix and "--profile" in bad_name.value.fixes["cli"]


# --- the strength rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("passphrase", "score"), [("abc", 0), ("qwerty123456", 1), ("blue guitar", 2)])
def test_a_passphrase_below_3_of_4_is_refused_saying_its_score_and_the_minimum(passphrase: str, score: int) -> None:
    with pytest.raises(InputError) as refused:
        backup.check_strength(passphrase, names=["site-a"])
    message = refused.value.message
    assert f"scores {score} of 4 on zxcvbn's scale, and an export needs at least 3" in message
    assert "\n" not in str(refused.value) and (len(passphrase) < 6 or passphrase not in str(refused.value))
    assert "four or more random words" in refused.value.fix and "--passphrase-env" in refused.value.fix
    assert f"in {backup.FORM_LABELS['passphrase']} and {backup.FORM_LABELS['again']}" in refused.value.fixes["form"]


@pytest.mark.parametrize("passphrase", ["horse staple", "correct horse battery staple", "river-stone-cloud",
                                        "purple tractor sky " * 6])  # the last longer than zxcvbn's 72
def test_a_passphrase_of_3_or_4_passes(passphrase: str) -> None:
    backup.check_strength(passphrase, names=["site-a"])
    assert backup.MIN_PASSPHRASE_SCORE == 3


def test_the_same_rule_refuses_on_the_form_the_headless_run_and_the_cli_before_any_scrypt(
        home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    store, out = ProfileStore(home), tmp_path / "x.age"
    for surface, words in (("form", "in Passphrase and Again"), ("run", "passphrase_env"), ("cli", "--passphrase-env")):
        with pytest.raises(InputError, match="at least 3") as refused:
            backup_actions.act_export(store, ["site-a"], out, "blue guitar", "blue guitar" if surface == "form" else None,
                                      surface=surface)
        assert words in refused.value.fix, (surface, refused.value.fix)
    monkeypatch.setenv("WEAK_PASSPHRASE", "blue guitar")
    rc = cli.run(["--home", str(home), "export", "site-a", "--out", str(out), "--passphrase-env", "WEAK_PASSPHRASE"])
    err = capsys.readouterr().err
    assert rc == ExitCode.BAD_INPUT and "at least 3" in err and "--passphrase-env" in err and "blue guitar" not in err
    assert not out.exists() and ProfileStore(home).profile("site-a").load_settings().get("last_export") is None


# --- wrong passphrase, changed file, not an export -----------------------------------------------------------


def test_pyrages_three_refusals_map_to_two_lines() -> None:
    wrong = backup.decrypt_refusal("Decryption failed")
    assert wrong.message == backup.WRONG_PASSPHRASE and "made with in Passphrase" in wrong.worded_for("form").fix
    for said in ("Header MAC is invalid", "decryption error"):
        assert backup.decrypt_refusal(said).message == backup.CHANGED_FILE
    assert "Header is invalid" in backup.decrypt_refusal("Header is invalid").message


@pytest.mark.timeout(300)  # three scrypt decryptions on a loaded machine
def test_a_wrong_passphrase_and_a_changed_file_are_told_apart(export: bytes, tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "target")
    mac_at = export.index(b"\n---") + 6
    mac_char = b"B" if export[mac_at:mac_at + 1] == b"A" else b"A"  # still base64 (the MAC is random): a changed MAC
    changed_mac = export[:mac_at] + mac_char + export[mac_at + 1:]
    cases = {"wrong passphrase": (export, WRONG), "changed header": (changed_mac, PASSPHRASE),
             "changed payload": (flip(export, len(export) - 3), PASSPHRASE)}
    said = {}
    for case, (data, passphrase) in cases.items():
        with pytest.raises(InputError) as refused:
            backup.import_bytes(data, passphrase, store)
        said[case] = str(refused.value)
        assert "\n" not in said[case] and "[redacted]" not in said[case] and WRONG not in said[case]
    assert said["wrong passphrase"].startswith(backup.WRONG_PASSPHRASE) and "not an export" not in said["wrong passphrase"]
    assert said["changed header"].startswith(backup.CHANGED_FILE) and said["changed payload"].startswith(backup.CHANGED_FILE)
    assert store.names() == []


@pytest.mark.parametrize(("content", "what"), [(b'{"installed": {"client_id": "x"}}', "it holds JSON"),
                                               (b"", "it is empty"), (b"hello\n", "it holds text"),
                                               (bytes(range(256)), "it holds other data")])
def test_a_file_that_is_not_an_export_says_so_without_asking_about_the_passphrase(
        content: bytes, what: str, tmp_path: Path) -> None:
    with pytest.raises(InputError) as refused:
        backup.import_bytes(content, PASSPHRASE, ProfileStore(tmp_path))
    assert refused.value.message.startswith(f"the file is not an export: {what}")
    assert "passphrase" not in str(refused.value)
    assert refused.value.worded_for("form").fix == "type in Import from the .age file an export wrote"


def test_the_cli_refuses_a_json_file_before_it_asks_for_a_passphrase(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "client.json"
    source.write_text(json.dumps({"installed": {"client_id": "x"}}))
    rc = cli.run(["--home", str(tmp_path / "home"), "import", str(source)])  # no passphrase source, no terminal
    err = capsys.readouterr().err
    assert rc == ExitCode.BAD_INPUT and "not an export: it holds JSON" in err and "passphrase" not in err
    assert "`gapps-runbook export` wrote" in err


# --- files made from a form land under the runbook home --------------------------------------------------------


def test_a_name_typed_in_a_form_lands_in_the_homes_exports_folder_0700(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.chdir(tmp_path)  # the server's working folder: never where a form's file goes
    folder = exports_folder(home)
    assert folder == home.absolute() / EXPORTS_FOLDER and not folder.exists()  # naming it creates nothing
    assert form_target(home, "  site-a.age ") == str(folder / "site-a.age")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700 and stat.S_IMODE(home.stat().st_mode) == 0o700
    os.chmod(folder, 0o755)
    assert form_target(home, "b.age") == str(folder / "b.age") and stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert form_target(home, "/srv/app/x.age") == "/srv/app/x.age"
    assert form_target(home, "~/x.age") == str(Path.home() / "x.age")
    assert form_target(home, "") == ""
    assert form_target(tmp_path / "other", "x.age", create=False) == str((tmp_path / "other").absolute() / "exports/x.age")
    assert not (tmp_path / "other").exists() and list(tmp_path.glob("*.age")) == []


def flip(data: bytes, position: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= 0x01
    return bytes(changed)



def test_04s_hand_off_from_the_form_lands_in_the_exports_folder_with_its_full_path_shown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gapps_runbook.emulator import Emulator, serve
    from gapps_runbook.notebook import step04

    from sites import authorized_site

    monkeypatch.chdir(tmp_path)  # the server's working folder
    with serve(Emulator(auto_approve=True)) as running:
        site = authorized_site(tmp_path / "home", running)
        form = step04.TokenStatusForm(site)
        try:
            folder = exports_folder(tmp_path / "home")
            assert form.handoff_to.value == str(folder / "site-a-token.json") and not folder.exists()
            form.handoff_to.value = "app-token.json"
            form.handoff.click()
            written = folder / "app-token.json"
            assert form.message.value == "", form.message.value
            assert form.handoff_to.value == str(written) and f"Wrote {written} (0600" in form.handed.value
            assert stat.S_IMODE(written.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert not (tmp_path / "app-token.json").exists()
        finally:
            form.close()
