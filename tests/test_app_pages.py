"""The no-code app's pages in process (``gapps_runbook.app.runbook_app``): real widgets, the emulator over loopback.

Opening pages writes nothing (every file of the profile home hashed before and after showing each page,
with and without a token: step 03 then requests a device code, which is no stored change; cancelling that
attempt afterwards is recorded by step 03, an action, so the hash is taken before); a page's form is
built only when the page is first shown; profile and issuer from the URL's query string, safely.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import runbook
from gapps_runbook.emulator import Emulator, serve
from gapps_runbook.emulator.facts import random_client_id
from gapps_runbook.errors import InputError
from gapps_runbook.app import runbook_app as app_pages
from gapps_runbook.oauth import scopes

from sites import authorized_ready_site, authorized_site


@pytest.fixture(scope="module")
def auto_emu() -> Iterator[Any]:
    """An auto-approving emulator, for a profile authorized beforehand."""
    with serve(Emulator(auto_approve=True)) as running:
        yield running


def stored(home: Path) -> dict[str, str]:
    """Every file under ``home`` -> the sha256 of its bytes."""
    return {str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(home.rglob("*")) if p.is_file()}


def device_profile(home: Path, emu: Any, name: str) -> runbook.Site:
    """Steps 01-02 done for the device flow (openid), no token."""
    site = runbook.Site.open(name, home=home, issuer=emu.base_url)
    runbook.check_console(site, scopes.scopes_for(("openid",)), flow="device", publishing_status="production")
    client = emu.emulator.register_client(random_client_id(), "GOCSPX-" + uuid.uuid4().hex[:28], "device")
    runbook.save_client(site, client_id=client.client_id, client_secret=client.client_secret, client_type="device")
    return site


@pytest.mark.parametrize("authorized", [False, True], ids=["no-token", "authorized"])
def test_showing_every_page_writes_nothing(tmp_path: Path, emu: Any, auto_emu: Any, authorized: bool) -> None:
    home = tmp_path / "home"
    if authorized:
        emu = auto_emu
        authorized_site(home, emu, "site-a")
    else:
        device_profile(home, emu, "site-a")
    before = stored(home)
    app = app_pages.RunbookApp(profile="site-a", home=str(home), issuer=emu.base_url)
    try:
        for index in range(len(app_pages.PAGES)):
            app.show(index)
            assert app.body.children[0] is app.forms[index].box, f"page {index} shows an error instead of its form"
        for index in reversed(range(len(app_pages.PAGES))):
            app.show(index)
        after = stored(home)
    finally:  # stopping 03's attempt is an action of its own (runbook.authorize records the cancel)
        for form in app.forms.values():
            form.stop()
    assert after == before


def test_the_old_01_form_wrote_on_open_so_the_check_can_fail(tmp_path: Path, emu: Any) -> None:
    home = tmp_path / "home"
    site = device_profile(home, emu, "site-a")
    before = stored(home)
    from gapps_runbook.notebook import actions

    actions.act_preflight(site, None)  # what opening 01 used to do: settings, step record, an audit line
    assert stored(home) != before


def test_a_page_is_built_only_when_first_shown_and_back_next_keep_it(tmp_path: Path, emu: Any) -> None:
    home = tmp_path / "home"
    device_profile(home, emu, "site-a")
    app = app_pages.RunbookApp(profile="site-a", home=str(home), issuer=emu.base_url)
    app.show(0)
    assert set(app.forms) == {0}
    app.next.click()
    app.next.click()
    assert set(app.forms) == {0, 1, 2} and app.index == 2
    form = app.forms[1]
    app.back.click()
    assert app.forms[1] is form and app.body.children == (form.box,)
    assert app.back.disabled is False and app.next.disabled is False
    app.show(0)
    assert app.back.disabled is True


def test_a_missing_client_is_one_line_on_the_page_not_a_traceback(tmp_path: Path, emu: Any) -> None:
    app = app_pages.RunbookApp(profile="empty", home=str(tmp_path / "home"), issuer=emu.base_url)
    app.show(3)
    text = app.body.children[0].value
    assert "has no OAuth client yet" in text and "Fix:" in text and "Traceback" not in text


def test_choosing_another_profile_on_00_carries_to_the_later_pages(tmp_path: Path, emu: Any) -> None:
    home = tmp_path / "home"
    device_profile(home, emu, "site-a")
    device_profile(home, emu, "site-b")
    app = app_pages.RunbookApp(profile="site-a", home=str(home), issuer=emu.base_url)
    app.show(1)
    app.show(0)
    app.forms[0].picker.value = "site-b"
    assert app.profile == "site-b" and set(app.forms) == {0}
    app.show(2)
    assert app.forms[2].site.profile.name == "site-b"
    assert "site-b" in app.header.value


def test_profile_and_issuer_come_from_the_query_string_safely() -> None:
    env = {app_pages.PROFILE_ENV: "site-a", app_pages.ISSUER_ENV: "https://accounts.google.com",
           "GAPPS_RUNBOOK_HOME": "/h"}
    assert app_pages.app_choices(env) == {"profile": "site-a", "home": "/h", "issuer": "https://accounts.google.com"}
    assert app_pages.app_choices({**env, "QUERY_STRING": "profile=site-b&issuer=http%3A%2F%2F127.0.0.1%3A8765"}) == \
        {"profile": "site-b", "home": "/h", "issuer": "http://127.0.0.1:8765"}
    with pytest.raises(InputError, match="loopback"):
        app_pages.app_choices({**env, "QUERY_STRING": "issuer=https://evil.example"})
    with pytest.raises(InputError):
        app_pages.app_choices({**env, "QUERY_STRING": "profile=../x"})


def test_outside_voila_the_app_notebook_prints_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert app_pages.main({}) is None
    assert capsys.readouterr().out.strip() == "This notebook is the no-code app: open it with `gapps-runbook app`."


def test_01_saves_the_shown_choices_only_when_asked(tmp_path: Path, emu: Any) -> None:
    from gapps_runbook.notebook.step01 import ConsoleChecklistForm

    home = tmp_path / "home"
    site = device_profile(home, emu, "site-a")
    before = stored(home)
    form = ConsoleChecklistForm(site)
    assert stored(home) == before and form.saved.value == ""
    form.save.click()
    assert "Saved in profile site-a" in form.saved.value
    steps = site.profile.load_settings()["steps"]
    assert steps["preflight"]["status"] == "ok"
    assert stored(home) != before


# -- live pages: the header and every form follow the stored state ----------------------------------------


def _app(home: Path, emu: Any, profile: str = "site-a") -> app_pages.RunbookApp:
    return app_pages.RunbookApp(profile=profile, home=str(home), issuer=emu.base_url)


def _verdicts(app: app_pages.RunbookApp) -> dict[str, str]:
    """The header's verdict per step, as rendered ("03" -> "ok")."""
    import re

    return dict(re.findall(r"data-step='(\d\d)' data-verdict='([a-z ]+)'", app.header.value))


def test_every_page_has_the_header_read_again_on_each_show_and_after_each_action(tmp_path: Path,
                                                                                auto_emu: Any) -> None:
    home = tmp_path / "home"
    site = authorized_ready_site(home, auto_emu, "site-a")
    token = site.profile.load_token()
    assert token is not None
    app = _app(home, auto_emu)
    try:
        for index in range(len(app_pages.PAGES)):
            app.show(index)
            assert "Site <b>site-a</b>" in app.header.value and token.token_id in app.header.value
            assert set(_verdicts(app)) == {"01", "02", "03", "04", "05"}
        assert _verdicts(app)["04"] == "not run"
        app.show(4)
        app.forms[4].verify.click()  # an action on a page: the header follows at once
        assert _verdicts(app)["04"] == "ok", app.header.value
        runbook.revoke_and_prove(site)  # elsewhere (the CLI): seen when a page is shown next
        app.show(5)
        assert "<b>no token</b>" in app.header.value and _verdicts(app)["04"] == "stale"
    finally:
        for form in app.forms.values():
            form.stop()


def test_a_page_is_rebuilt_when_what_it_was_built_from_changed_else_refreshed(tmp_path: Path, emu: Any,
                                                                              auto_emu: Any) -> None:
    home = tmp_path / "home"
    site = authorized_ready_site(home, auto_emu, "site-a")  # a Desktop app client, Calendar + openid
    app = _app(home, auto_emu)
    try:
        app.show(3)
        desktop = app.forms[3]
        assert desktop.plan.flow == "desktop" and "Already authorized" in desktop.result.value
        app.show(2)
        app.show(3)
        assert app.forms[3] is desktop  # nothing changed: refreshed, kept (no new attempt)
        runbook.check_console(site, scopes.scopes_for(("openid",)), flow="device", publishing_status="production")
        device = auto_emu.emulator.register_client(random_client_id(), "GOCSPX-" + uuid.uuid4().hex[:28], "device")
        app.show(2)
        assert app.forms[2].client_type.value == "device"  # 02 offers the client type 01 chose now
        runbook.save_client(site, client_id=device.client_id, client_secret=device.client_secret,
                            client_type="device")
        app.render_header()  # what any action of a page does
        assert _verdicts(app)["03"] == "stale" and "03 <b>stale</b> &rarr; redo 03" in app.header.value
        assert "step 02&#x27;s client changed since" in app.header.value  # the full line is the chip's tooltip
        app.show(3)
        assert app.forms[3] is not desktop and app.forms[3].plan.flow == "device"
        assert "Already authorized" not in app.forms[3].result.value
        assert not desktop.alive()  # the old form is closed: its threads end
    finally:
        for form in app.forms.values():
            form.stop()


def test_04_shows_the_token_00_shows_after_a_refresh_elsewhere(tmp_path: Path, auto_emu: Any) -> None:
    home = tmp_path / "home"
    site = authorized_ready_site(home, auto_emu, "site-a")
    app = _app(home, auto_emu)
    try:
        app.show(4)
        old = app.forms[4].shown_token
        runbook.refresh(site)  # another tab or the CLI: a new access token, a new id
        new = site.profile.load_token().token_id  # type: ignore[union-attr]
        assert new != old
        app.show(0)
        assert new in app.forms[0].table.value
        app.show(4)
        assert app.forms[4].shown_token == new and new in app.forms[4].table.value
    finally:
        for form in app.forms.values():
            form.stop()


def _two_tabs(home: Path, emu: Any, index: int) -> tuple[app_pages.RunbookApp, app_pages.RunbookApp]:
    apps = (_app(home, emu), _app(home, emu))
    for one in apps:
        one.show(index)
    return apps


def test_a_second_tab_refuses_to_act_on_a_token_revoked_in_the_first(tmp_path: Path, auto_emu: Any) -> None:
    from gapps_runbook.notebook.step04 import TOKEN_CHANGED

    home = tmp_path / "home"
    authorized_ready_site(home, auto_emu, "site-a")
    first, second = _two_tabs(home, auto_emu, 4)
    try:
        second.forms[4].stop()  # its countdown would notice within a second: the action's own check is tested here
        first.forms[4].confirm.click()
        assert "Revoked" in first.forms[4].checks.value
        calls = len(auto_emu.emulator.requests)
        for name, beside in (("refresh", "message"), ("verify", "message"), ("handoff", "handed")):
            getattr(second.forms[4], name).click()
            assert TOKEN_CHANGED in getattr(second.forms[4], beside).value, name  # beside the button pressed
            assert second.forms[4].expires.value == "No token"
            second.forms[4].has_token = True  # as if the page still showed one: the next button too must refuse
            second.forms[4].shown_token = "gone"
        assert len(auto_emu.emulator.requests) == calls  # nothing was sent for the token that is gone
        assert "<b>no token</b>" in second.header.value  # the action re-rendered the header too
    finally:
        for app in (first, second):
            for form in app.forms.values():
                form.stop()


def test_a_countdown_for_a_token_revoked_elsewhere_stops(tmp_path: Path, auto_emu: Any) -> None:
    from gapps_runbook.commands.lab import wait_until
    from gapps_runbook.notebook.step04 import TOKEN_FOLLOWED

    home = tmp_path / "home"
    site = authorized_ready_site(home, auto_emu, "site-a")
    app = _app(home, auto_emu)
    try:
        app.show(4)
        form = app.forms[4]
        assert wait_until(lambda: form.expires.value.startswith("Access token expires in"), 10)
        runbook.revoke_and_prove(site)
        assert wait_until(lambda: form.expires.value == "No token", 10), form.expires.value
        assert TOKEN_FOLLOWED in form.message.value and form.refresh.disabled
        assert wait_until(lambda: "<b>no token</b>" in app.header.value, 10)
    finally:
        for form in app.forms.values():
            form.stop()


def test_05_refuses_to_export_a_token_changed_in_another_tab(tmp_path: Path, auto_emu: Any) -> None:
    from gapps_runbook.notebook.step04 import TOKEN_CHANGED

    home = tmp_path / "home"
    site = authorized_ready_site(home, auto_emu, "site-a")
    app = _app(home, auto_emu)
    try:
        app.show(5)
        form = app.forms[5]
        token = site.profile.load_token()
        assert token is not None and f"token {token.token_id}" in form.last.value
        runbook.revoke_and_prove(site)
        form.target.value = str(tmp_path / "out.age")
        form.passphrase.value = form.confirmation.value = "correct horse battery staple"
        form.export.click()
        assert TOKEN_CHANGED in form.exported.value and "token none" in form.last.value
        assert not (tmp_path / "out.age").exists() and form.passphrase.value == ""
    finally:
        for form in app.forms.values():
            form.stop()
