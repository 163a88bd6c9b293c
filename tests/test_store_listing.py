"""``ProfileStore.listing``: the read-only path of ``status --all`` (issue 9, figure B5).

Each file of a listed profile is read once and without the profile lock (the store's writes replace
files whole, so a read is never half of a write); the folders are checked once per listing. What
the ordinary reads refuse, a listed profile refuses too: symlinks, corrupt files, foreign folders.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import pytest

from gapps_runbook import errors
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.clock import FakeClock
from gapps_runbook.oauth.endpoints import GOOGLE
from gapps_runbook.profile import store

from fakes import client_id, make_token

CLIENT = ClientConfig(
    client_id("q" * 32), "GOCSPX-" + "L" * 28, "desktop", "Listing", "listing",
)


@pytest.fixture
def profiles(tmp_path: Path) -> store.ProfileStore:
    """Two profiles: ``a`` with client, token and settings; ``b`` with settings only."""
    profiles = store.ProfileStore(tmp_path / "home", clock=FakeClock())
    a = profiles.profile("a")
    a.save_client(CLIENT, GOOGLE)
    a.save_token(make_token(profiles.clock.time()), CLIENT, GOOGLE)
    a.update_settings(lambda s: s.update(last_export={"at": "2026-01-01T00:00:00+00:00"}))
    profiles.profile("b").update_settings(lambda s: s.update(scopes=["openid"]))
    return profiles


def no_lock(profile: store.Profile) -> contextlib.AbstractContextManager[None]:
    raise AssertionError(f"the listing took the lock of {profile.name}")


def test_listing_reads_what_the_ordinary_reads_do_without_the_lock(profiles: store.ProfileStore,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ordinary = {n: (profiles.profile(n).load_settings(), profiles.profile(n).load_client(),
                    profiles.profile(n).load_token()) for n in profiles.names()}
    monkeypatch.setattr(store.Profile, "locked", no_lock)
    listed = {p.name: (p.load_settings(), p.load_client(), p.load_token()) for p in profiles.listing()}
    assert listed == ordinary and set(listed) == {"a", "b"}
    assert listed["b"][1:] == (None, None)


def test_each_file_is_read_once(profiles: store.ProfileStore, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    real = store.read_private

    def counting(path: Path, limit: int) -> bytes | None:
        reads.append(path.name)
        return real(path, limit)

    monkeypatch.setattr(store, "read_private", counting)
    a = next(p for p in profiles.listing() if p.name == "a")
    for _ in range(3):
        a.load_settings()
        a.load_token()
    assert sorted(reads) == ["authorized_user.json", "settings.json"]


def test_a_lock_makes_a_listed_profile_ordinary_again(profiles: store.ProfileStore) -> None:
    a = next(p for p in profiles.listing() if p.name == "a")
    assert a.load_settings()["scopes"] == []
    a.update_settings(lambda s: s.update(scopes=["openid"]))  # takes the lock: reads are fresh from here
    assert a.load_settings()["scopes"] == ["openid"]


def test_a_symlinked_file_is_refused(profiles: store.ProfileStore, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("{}")
    token = profiles.profile("a").file(store.TOKEN_FILE)
    token.unlink()
    token.symlink_to(target)
    listed = {p.name: p for p in profiles.listing()}
    with pytest.raises(errors.StoreError, match="symbolic link"):
        listed["a"].load_token()


def test_a_corrupt_file_is_reported_and_left(profiles: store.ProfileStore) -> None:
    path = profiles.profile("b").file(store.SETTINGS_FILE)
    path.write_text("{not json")
    listed = {p.name: p for p in profiles.listing()}
    with pytest.raises(errors.StoreError, match="not valid JSON"):
        listed["b"].load_settings()
    assert path.read_text() == "{not json"


def test_folders_are_checked_once_per_listing(profiles: store.ProfileStore, tmp_path: Path) -> None:
    folder = profiles.profile("b").path
    os.chmod(folder, 0o755)
    os.chmod(profiles.profiles_dir, 0o755)
    (profiles.profiles_dir / "linked").symlink_to(tmp_path)  # a symlinked profile folder is not a profile
    assert [p.name for p in profiles.listing()] == ["a", "b"]
    assert stat.S_IMODE(os.lstat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(profiles.profiles_dir).st_mode) == 0o700


def test_an_empty_home_lists_nothing(tmp_path: Path) -> None:
    assert store.ProfileStore(tmp_path / "nowhere").listing() == []
    assert not (tmp_path / "nowhere").exists()
