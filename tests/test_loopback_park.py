"""A loopback listener announces its port to the app's server while it waits (RFC 8252 §7.3), and the page an
abandoned attempt's consent tab lands on (:mod:`gapps_runbook.oauth.loopback_listener`); the app's page address
(:mod:`gapps_runbook.app.runbook_app`: ``?page=``)."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from gapps_runbook.app import runbook_app as app_pages
from gapps_runbook.oauth import loopback_listener as ll


def test_a_listener_announces_its_port_while_it_waits_and_withdraws_it_when_it_closes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ll.PARK_ENV, str(tmp_path))
    ll.announce_for("site-b")
    try:
        server = ll.make_listener()
    finally:
        ll.announce_for("")
    port = server.server_port
    note = json.loads((tmp_path / f"{port}.json").read_text(encoding="utf-8"))
    assert note == {"pid": os.getpid(), "port": port, "profile": "site-b"}
    assert ll.announcements(tmp_path) == [ll.Announcement(tmp_path / f"{port}.json", os.getpid(), port, "site-b")]
    server.server_close()  # the attempt ended here (authorized, failed, cancelled): nothing to keep answering
    assert list(tmp_path.iterdir()) == []


def test_without_the_apps_folder_nothing_is_announced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ll.PARK_ENV, raising=False)
    server = ll.make_listener()
    assert server.announcement is None
    server.server_close()


def test_an_unwritable_folder_leaves_the_attempt_unannounced(tmp_path: Path) -> None:
    assert ll.announce(tmp_path / "gone", 40000) is None


def test_a_malformed_announcement_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "1.json").write_text("{", encoding="utf-8")
    (tmp_path / "2.json").write_text(json.dumps({"port": 2}), encoding="utf-8")
    (tmp_path / "3.json").write_text(json.dumps({"pid": 1, "port": 3}), encoding="utf-8")
    assert ll.announcements(tmp_path) == [ll.Announcement(tmp_path / "3.json", 1, 3, "")]


def test_the_abandoned_page_says_so_and_links_to_step_03_only() -> None:
    again = "http://127.0.0.1:8866/?page=03&profile=site-b"
    page = ll.landing_html(ll.abandoned_landing(again))
    assert f"<h1>{ll.ABANDONED_TITLE}</h1>" in page and "nothing was stored" in page
    assert "href='http://127.0.0.1:8866/?page=03&amp;profile=site-b'" in page
    assert page.count("<a ") == 1 and "<script" not in page
    assert "<a " not in ll.landing_html(ll.abandoned_landing())
    assert "'><script>" not in ll.landing_html(ll.abandoned_landing("'><script>"))


def test_the_listener_still_settles_its_own_attempt_when_announced(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    monkeypatch.setenv(ll.PARK_ENV, str(tmp_path))
    server = ll.make_listener()
    server.set_app(ll.CallbackApp("s" * 32, f"http://127.0.0.1:{server.server_port}/"))
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    reply = requests.get(f"http://127.0.0.1:{server.server_port}/?state={'s' * 32}&code=c", timeout=10)
    thread.join(10)
    server.server_close()
    assert reply.status_code == 200 and "Received" in reply.text
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("query", "index"), [("", 0), ("page=03", 3), ("page=3&profile=a", 3), ("page=05", 5),
                                              ("page=06", 0), ("page=x", 0), ("page=-1", 0)])
def test_the_page_comes_from_the_address(query: str, index: int) -> None:
    assert app_pages.app_page({"QUERY_STRING": query}) == index
