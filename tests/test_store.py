"""Profiles on disk: modes, symlinks, corrupt files, atomic writes, locking and token persistence."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gapps_runbook import errors
from gapps_runbook.profile import private_files, store
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.endpoints import GOOGLE, Endpoints

from fakes import client_id, make_token


CLIENT = ClientConfig(
    client_id("q" * 32), "GOCSPX-" + "T" * 28, "desktop",
    "Calendar bridge", "calendar-bridge",
)
EMULATOR = Endpoints(
    issuer="http://127.0.0.1:8765",
    authorization_endpoint="http://127.0.0.1:8765/o/oauth2/v2/auth",
    token_endpoint="http://127.0.0.1:8765/token",
    device_authorization_endpoint="http://127.0.0.1:8765/device/code",
    tokeninfo_endpoint="http://127.0.0.1:8765/tokeninfo",
)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@contextlib.contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def profiles(home: Path) -> store.ProfileStore:
    return store.ProfileStore(home, clock=FakeClock())


def assert_private(profile: store.Profile, *files: str) -> None:
    for folder in (profile.store.home, profile.store.profiles_dir, profile.path):
        assert mode(folder) == 0o700, folder
    for name in files:
        assert mode(profile.file(name)) == 0o600, name
        assert stat.S_ISREG(os.lstat(profile.file(name)).st_mode)


# --- home, names, layout -------------------------------------------------------------------------


def test_default_home_from_env_or_platformdirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(store.HOME_ENV, str(tmp_path / "rb"))
    assert store.default_home() == tmp_path / "rb"
    assert store.ProfileStore().home == tmp_path / "rb"
    monkeypatch.delenv(store.HOME_ENV)
    assert store.default_home().name == "gapps-runbook"


@pytest.mark.parametrize("name", ["default", "calendar-prod", "a.b_c-1", "x" * 64])
def test_good_profile_names(profiles: store.ProfileStore, name: str) -> None:
    assert profiles.profile(name).path == profiles.home / "profiles" / name


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "../x", "x" * 65, "sp ace", "é", "a\x00"])
def test_bad_profile_names(profiles: store.ProfileStore, name: str) -> None:
    with pytest.raises(errors.InputError, match="profile name"):
        profiles.profile(name)


def test_names_lists_only_profile_folders(profiles: store.ProfileStore) -> None:
    assert profiles.names() == []
    profiles.profile("b").update_settings(lambda s: None)
    profiles.profile("a").update_settings(lambda s: None)
    (profiles.profiles_dir / ".hidden").mkdir()
    (profiles.profiles_dir / "stray-file").write_text("x")
    (profiles.profiles_dir / "link").symlink_to(profiles.profile("a").path)
    assert profiles.names() == ["a", "b"]


def test_nothing_is_created_until_a_write(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    assert profile.load_settings() == store.default_settings()
    assert profile.load_client() is None
    assert profile.load_token() is None
    assert not profiles.home.exists()


# --- settings ------------------------------------------------------------------------------------


def test_update_settings_round_trip_and_layout(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")

    def edit(settings: dict) -> None:
        settings["issuer"] = "https://accounts.google.com"
        settings["scopes"] = ["https://www.googleapis.com/auth/calendar.readonly"]
        settings["publishing_status"] = "production"

    written = profile.update_settings(edit)
    assert written["schema_version"] == store.SCHEMA_VERSION
    again = profile.load_settings()
    assert again == written and again["flow"] == "auto" and again["checklist"] == {}
    on_disk = json.loads(profile.file(store.SETTINGS_FILE).read_text())
    assert on_disk["schema_version"] == 1 and on_disk["publishing_status"] == "production"
    assert_private(profile, store.SETTINGS_FILE)
    assert mode(profile.file(store.LOCK_FILE)) & 0o077 == 0
    assert sorted(os.listdir(profile.path)) == [store.LOCK_FILE, store.SETTINGS_FILE]  # no temp file left


def test_update_settings_may_return_a_new_dict_and_results_are_copies(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    result = profile.update_settings(lambda s: {**s, "flow": "desktop"})
    result["flow"] = "mutated"
    assert profile.load_settings()["flow"] == "desktop"


def test_checklist_ticks_are_kept(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    profile.set_checklist("consent_screen_published", True)
    settings = profile.set_checklist("apis_enabled", False)
    assert settings["checklist"] == {"consent_screen_published": True, "apis_enabled": False}
    assert profile.load_settings()["checklist"] == settings["checklist"]


def test_unserialisable_settings_are_refused_and_nothing_is_written(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    profile.update_settings(lambda s: s.update(flow="desktop"))
    before = profile.file(store.SETTINGS_FILE).read_bytes()
    with pytest.raises(errors.StoreError, match="could not be saved as JSON"):
        profile.update_settings(lambda s: s.update(flow=object()))
    assert profile.file(store.SETTINGS_FILE).read_bytes() == before
    assert not [n for n in os.listdir(profile.path) if n.endswith(".tmp")]


# --- corrupt and foreign files -------------------------------------------------------------------

CORRUPT = [b"{\"issuer\": ", b"[1, 2]", b"\xff\xfe not utf-8", b'{"schema_version": "one"}', b'{"steps": []}']


@pytest.mark.parametrize("content", CORRUPT)
def test_corrupt_settings_raise_and_are_left_byte_for_byte(profiles: store.ProfileStore, content: bytes) -> None:
    profile = profiles.profile("default")
    profile.update_settings(lambda s: None)
    path = profile.file(store.SETTINGS_FILE)
    path.write_bytes(content)
    for action in (profile.load_settings, lambda: profile.update_settings(lambda s: None)):
        with pytest.raises(errors.StoreError) as caught:
            action()
        text = str(caught.value)
        assert "profiles/default/settings.json" in text and errors.STEP_CHECKLIST in text and "left as it is" in text
        assert "\n" not in text
        assert path.read_bytes() == content


def test_newer_schema_is_refused(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    profile.update_settings(lambda s: None)
    profile.file(store.SETTINGS_FILE).write_text('{"schema_version": 99}')
    with pytest.raises(errors.StoreError, match="newer gapps-runbook"):
        profile.load_settings()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a file to another user")
def test_files_and_folders_of_another_user_are_refused(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    profile.update_settings(lambda s: None)
    path = profile.file(store.SETTINGS_FILE)
    os.chown(path, 4242, 4242)
    with pytest.raises(errors.StoreError, match="belongs to another user"):
        profile.load_settings()
    with pytest.raises(errors.StoreError, match="belongs to another user"):
        profile.update_settings(lambda s: None)
    with pytest.raises(errors.StoreError, match="refusing to replace"):
        private_files.write_private(path, b"{}")
    assert os.stat(path).st_uid == 4242
    os.chown(path, 0, 0)
    os.chown(profile.path, 4242, 4242)
    with pytest.raises(errors.StoreError, match="folder .* belongs to another user"):
        profile.update_settings(lambda s: None)


def test_a_fifo_is_refused_without_hanging(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    profile.update_settings(lambda s: None)
    profile.file(store.SETTINGS_FILE).unlink()
    os.mkfifo(profile.file(store.SETTINGS_FILE), 0o600)
    with pytest.raises(errors.StoreError, match="not a regular file"):
        profile.load_settings()


# --- the permission matrix (target S3, docs/reliability.md) ------------------------------------------


def make_preexisting(profile: store.Profile, state: str, outside: Path) -> None:
    """A profile made by someone else's tool: loose folders and a file in ``state``."""
    profile.path.mkdir(parents=True, mode=0o777)
    for folder in (profile.store.home, profile.store.profiles_dir, profile.path):
        folder.chmod(0o755)
    path = profile.file(store.SETTINGS_FILE)
    if state == "symlink":
        outside.write_text('{"issuer": "https://outside.example"}')
        outside.chmod(0o644)
        path.symlink_to(outside)
    else:
        path.write_text('{"schema_version": 1, "flow": "desktop"}')
        path.chmod(int(state, 8))


@pytest.mark.parametrize("umask_value", [0o000, 0o022, 0o077])
@pytest.mark.parametrize("state", ["0644", "0666", "symlink", "absent"])
def test_permission_matrix(home: Path, tmp_path: Path, umask_value: int, state: str) -> None:
    profile = store.ProfileStore(home).profile("default")
    outside = tmp_path / "outside.json"
    with umask(umask_value):
        if state != "absent":
            make_preexisting(profile, state, outside)
        if state == "symlink":
            with pytest.raises(errors.StoreError, match="symbolic link; refusing to follow"):
                profile.load_settings()
            with pytest.raises(errors.StoreError, match="symbolic link; refusing"):
                profile.update_settings(lambda s: s.update(flow="device"))
            assert outside.read_text() == '{"issuer": "https://outside.example"}'
            assert mode(outside) == 0o644  # the target was neither followed nor chmodded
            assert os.path.islink(profile.file(store.SETTINGS_FILE))
            return
        if state != "absent":
            assert profile.load_settings()["flow"] == "desktop"
            assert_private(profile, store.SETTINGS_FILE)  # reading alone tightened everything
        profile.update_settings(lambda s: s.update(issuer="https://accounts.google.com"))
    assert_private(profile, store.SETTINGS_FILE)
    assert profile.load_settings()["issuer"] == "https://accounts.google.com"


def test_symlinked_profile_folder_is_refused(profiles: store.ProfileStore, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    profiles.profiles_dir.mkdir(parents=True)
    (profiles.profiles_dir / "default").symlink_to(elsewhere)
    with pytest.raises(errors.StoreError, match="not a plain folder"):
        profiles.profile("default").update_settings(lambda s: None)
    assert mode(elsewhere) == 0o755 and os.listdir(elsewhere) == []


def test_a_symlinked_home_is_followed(tmp_path: Path) -> None:
    real = tmp_path / "real-home"
    real.mkdir(mode=0o755)
    (tmp_path / "link-home").symlink_to(real)
    profile = store.ProfileStore(tmp_path / "link-home").profile("default")
    profile.update_settings(lambda s: None)
    assert mode(real) == 0o700 and (real / "profiles" / "default" / store.SETTINGS_FILE).exists()


# --- atomic writes -------------------------------------------------------------------------------


def test_leftover_temp_files_are_removed_by_the_next_write(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    profile.update_settings(lambda s: None)
    stale = profile.file(".settings.json.deadbeef.tmp")
    fd = os.open(stale, os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, b'{"half": ')
    os.close(fd)
    other = profile.file(".client.json.cafe.tmp")
    other.write_text("{}")
    profile.update_settings(lambda s: None)
    assert not stale.exists()
    assert other.exists()  # only the file being written is cleaned; the client's is cleaned on its write


def test_a_failed_write_leaves_the_old_file_and_no_temp(profiles: store.ProfileStore,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    profile = profiles.profile("default")
    profile.update_settings(lambda s: s.update(flow="desktop"))
    before = profile.file(store.SETTINGS_FILE).read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, "replace", broken_replace)
    with pytest.raises(OSError):
        profile.update_settings(lambda s: s.update(flow="device"))
    monkeypatch.undo()
    assert profile.file(store.SETTINGS_FILE).read_bytes() == before
    assert not [n for n in os.listdir(profile.path) if n.endswith(".tmp")]


# --- locking -------------------------------------------------------------------------------------


def test_lock_is_reentrant_in_one_thread(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    with profile.locked(), profile.locked(timeout=0.1):
        profile.update_settings(lambda s: s.update(flow="desktop"))
        assert profiles.profile("default").load_settings()["flow"] == "desktop"  # another Profile object


def test_lock_timeout_has_a_clear_message(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with profile.locked():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(10)
        with pytest.raises(errors.LockTimeout) as caught, profiles.profile("default").locked(timeout=0.2):
            pytest.fail("the lock was taken twice")
        text = str(caught.value)
        assert "profile 'default' is locked by another gapps-runbook process" in text
        assert "0.2 s" in text and store.LOCK_FILE in text and "Fix: wait for the other" in text
        assert caught.value.exit_code == errors.ExitCode.BAD_INPUT
    finally:
        release.set()
        thread.join()
    with profile.locked(timeout=0.5):  # free again
        pass


def _increment(home: str, count: int) -> None:
    profile = store.ProfileStore(Path(home)).profile("shared")

    def bump(settings: dict) -> None:
        settings["checklist"]["counter"] = int(settings["checklist"].get("counter", 0)) + 1

    for _ in range(count):
        profile.update_settings(bump)


def test_four_processes_do_not_lose_updates(home: Path) -> None:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_increment, args=(str(home), 50)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    profile = store.ProfileStore(home).profile("shared")
    assert profile.load_settings()["checklist"]["counter"] == 200
    assert_private(profile, store.SETTINGS_FILE)
    assert not [n for n in os.listdir(profile.path) if n.endswith(".tmp")]


def test_a_forked_child_can_use_a_profile_its_parent_used(home: Path) -> None:
    """Regression: the parent's cached FileLock was reused after fork ("inherited across fork")."""
    store.ProfileStore(home).profile("shared").update_settings(lambda s: None)  # caches the lock
    context = multiprocessing.get_context("fork")
    worker = context.Process(target=_increment, args=(str(home), 3))
    worker.start()
    worker.join(60)
    assert worker.exitcode == 0
    assert store.ProfileStore(home).profile("shared").load_settings()["checklist"]["counter"] == 3


# --- client --------------------------------------------------------------------------------------


def test_a_pinned_client_authentication_is_kept_and_a_bad_one_refused(profiles: store.ProfileStore) -> None:
    import dataclasses

    profile = profiles.profile("default")
    profile.save_client(dataclasses.replace(CLIENT, auth_method="client_secret_basic"), GOOGLE)
    assert profile.load_client().auth_method == "client_secret_basic"
    on_disk = json.loads(profile.file(store.CLIENT_FILE).read_text())
    on_disk["gapps_runbook"]["auth_method"] = "private_key_jwt"
    profile.file(store.CLIENT_FILE).write_text(json.dumps(on_disk))
    with pytest.raises(errors.StoreError, match="auth_method"):
        profile.load_client()


def test_client_round_trip_keeps_type_and_name(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    profile.save_client(CLIENT, GOOGLE)
    assert_private(profile, store.CLIENT_FILE)
    on_disk = json.loads(profile.file(store.CLIENT_FILE).read_text())
    assert on_disk["installed"]["client_secret"] == CLIENT.client_secret
    assert on_disk["gapps_runbook"] == {
        "schema_version": 1, "client_type": "desktop", "product_name": "Calendar bridge", "auth_method": None
    }
    assert profile.load_client() == CLIENT
    assert profile.load_client(GOOGLE) == CLIENT
    on_disk["installed"]["token_uri"] = "https://collector.evil.example/token"
    profile.file(store.CLIENT_FILE).write_text(json.dumps(on_disk))
    assert profile.load_client() == CLIENT  # the URIs are not used after import ...
    with pytest.raises(errors.StoreError, match="not usable: .*collector.evil.example"):
        profile.load_client(GOOGLE)  # ... but are checked when the caller passes the provider
    device = ClientConfig("emu-device", "emu-secret-123", "device")
    profile.save_client(device, EMULATOR)
    assert profile.load_client(EMULATOR) == device


def test_corrupt_client_names_step_02_and_is_kept(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    profile.save_client(CLIENT, GOOGLE)
    path = profile.file(store.CLIENT_FILE)
    path.write_text('{"installed": {"client_id": 1}, "gapps_runbook": {"client_type": "desktop"}}')
    before = path.read_bytes()
    with pytest.raises(errors.StoreError) as caught:
        profile.load_client()
    assert errors.STEP_CLIENT in str(caught.value) and "default/client.json" in str(caught.value)
    assert CLIENT.client_secret not in str(caught.value)
    assert path.read_bytes() == before


# --- token ---------------------------------------------------------------------------------------


def test_token_round_trip_is_google_auth_loadable(profiles: store.ProfileStore) -> None:
    from google.oauth2.credentials import Credentials

    profile = profiles.profile("default")
    assert profile.load_token() is None
    token = make_token(1_800_000_000.0)
    assert profile.save_token(token, CLIENT, GOOGLE) is True
    assert_private(profile, store.TOKEN_FILE)
    loaded = profile.load_token()
    assert loaded is not None
    assert (loaded.access_token, loaded.refresh_token, loaded.scopes) == (
        token.access_token, token.refresh_token, token.scopes)
    assert loaded.issued_at == token.issued_at and loaded.account == token.account
    assert loaded.refresh_token_expires_at == token.refresh_token_expires_at
    assert abs(loaded.expires_at - token.expires_at) < 1
    on_disk = json.loads(profile.file(store.TOKEN_FILE).read_text())
    assert on_disk["type"] == "authorized_user"
    assert on_disk["gapps_runbook"]["schema_version"] == store.SCHEMA_VERSION
    creds = Credentials.from_authorized_user_file(str(profile.file(store.TOKEN_FILE)))
    assert creds.refresh_token == token.refresh_token and creds.client_id == CLIENT.client_id
    assert creds.client_secret == CLIENT.client_secret and creds.token == token.access_token
    assert list(creds.scopes) == list(token.scopes)


def test_an_older_token_never_replaces_a_newer_one(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    newer, older = make_token(2000.0, "new"), make_token(1000.0, "old")
    assert profile.save_token(newer, CLIENT, GOOGLE) is True
    assert profile.save_token(older, CLIENT, GOOGLE) is False
    assert profile.load_token().refresh_token == newer.refresh_token


def _save_tokens(home: str, stamps: list[float]) -> None:
    profile = store.ProfileStore(Path(home)).profile("race")
    for stamp in stamps:
        profile.save_token(make_token(stamp, str(int(stamp))), CLIENT, GOOGLE)


def test_racing_writers_keep_the_newest_token(home: Path) -> None:
    context = multiprocessing.get_context("fork")
    batches = [[float(i) for i in range(start, 120, 3)] for start in range(3)]
    workers = [context.Process(target=_save_tokens, args=(str(home), list(reversed(b)))) for b in batches]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    assert store.ProfileStore(home).profile("race").load_token().issued_at == 119.0


def test_corrupt_token_is_not_overwritten_and_delete_is_explicit(profiles: store.ProfileStore) -> None:
    profile = profiles.profile("default")
    profile.save_token(make_token(1000.0), CLIENT, GOOGLE)
    path = profile.file(store.TOKEN_FILE)
    path.write_text('{"token": 5}')
    with pytest.raises(errors.StoreError) as caught:
        profile.load_token()
    assert errors.STEP_AUTHORIZE in str(caught.value) and "default/authorized_user.json" in str(caught.value)
    with pytest.raises(errors.StoreError):
        profile.save_token(make_token(2000.0), CLIENT, GOOGLE)
    assert path.read_text() == '{"token": 5}'
    assert profile.delete_token() is True
    assert profile.delete_token() is False
    assert profile.load_token() is None


def test_token_symlink_is_refused_and_delete_removes_only_the_link(profiles: store.ProfileStore,
                                                                   tmp_path: Path) -> None:
    profile = profiles.profile("default")
    profile.update_settings(lambda s: None)
    target = tmp_path / "victim.json"
    target.write_text("keep me")
    profile.file(store.TOKEN_FILE).symlink_to(target)
    with pytest.raises(errors.StoreError, match="symbolic link"):
        profile.load_token()
    with pytest.raises(errors.StoreError, match="symbolic link"):
        profile.save_token(make_token(1.0), CLIENT, GOOGLE)
    assert profile.delete_token() is True
    assert target.read_text() == "keep me"


def test_profiles_report_that_they_are_not_encrypted(profiles: store.ProfileStore) -> None:
    assert profiles.profile("default").encrypted is False
    assert "backed up" in (store.__doc__ or "")
