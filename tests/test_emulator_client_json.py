"""Practice without a terminal: the emulator's landing page offers each practice client's JSON.

Each link is downloaded over HTTP from an emulator on port 0, as a browser would, and imported with
``gapps-runbook client set --client-json`` against that emulator: the file has the console's shape
(``{"installed": {...}}``, the client-secrets format) and the runbook's own parser takes it.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from gapps_runbook import cli
from gapps_runbook.emulator import RunningEmulator
from gapps_runbook.emulator.landing import PRACTICE_ONLY, TYPE_NOTE


class Downloads(HTMLParser):
    """The ``<a download>`` links of a page, with the text that follows each one up to the next link."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.links: list[str] = []
        self.after: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and "download" in found and found.get("href"):
            self.links.append(str(found["href"]))
            self.after.append("")

    def handle_data(self, data: str) -> None:
        if self.after:
            self.after[-1] += data


def test_each_practice_client_json_downloads_in_the_consoles_shape_and_imports(
    tmp_path: Path, emulator: RunningEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = emulator.emulator
    emu.register_client("77-web.apps.googleusercontent.com", "GOCSPX-" + "w" * 28, "web")
    page = Downloads(requests.get(emulator.base_url + "/", timeout=30).text)
    expected = {c.client_id: c for c in emu.clients if c.client_type in ("desktop", "device")}
    assert sorted(page.links) == sorted(emulator.base_url + "/client-json/" + cid for cid in expected)
    assert all(PRACTICE_ONLY in text for text in page.after)  # the label beside each link
    notes = {link.rsplit("/", 1)[1]: TYPE_NOTE.strip() in " ".join(text.split()) for link, text in
             zip(page.links, page.after, strict=True)}
    assert notes == {cid: client.client_type == "device" for cid, client in expected.items()}
    for link in page.links:
        reply = requests.get(link, timeout=30)
        client = expected[link.rsplit("/", 1)[1]]
        assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
        assert reply.headers["Content-Disposition"] == f'attachment; filename="client_secret_{client.client_id}.json"'
        document = reply.json()
        assert list(document) == ["installed"]
        installed = document["installed"]
        assert installed["client_id"] == client.client_id and installed["client_secret"] == client.client_secret
        assert installed["token_uri"] == emulator.base_url + "/token"
        assert installed["auth_uri"] == emulator.base_url + "/o/oauth2/v2/auth"
        assert ("redirect_uris" in installed) == (client.client_type == "desktop")  # a TVs file does not say its type

        saved = tmp_path / f"client_secret_{client.client_id}.json"
        saved.write_bytes(reply.content)
        home, profile = tmp_path / "home", f"practice-{client.client_type}"
        base = ["--home", str(home), "--profile", profile, "--issuer", emulator.base_url]
        kind = ["--client-type", "device"] if client.client_type == "device" else []  # as the console's TVs file
        assert cli.run([*base, "client", "set", "--client-json", str(saved), *kind]) == 0
        capsys.readouterr()
        assert cli.run([*base, "client", "show", "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
        assert (shown["client_id"], shown["client_type"]) == (client.client_id, client.client_type)
        assert client.client_secret not in json.dumps(shown)


def test_a_client_that_is_not_offered_is_not_found(emulator: RunningEmulator) -> None:
    emulator.emulator.register_client("77-web.apps.googleusercontent.com", "GOCSPX-" + "w" * 28, "web")
    for client_id in ("77-web.apps.googleusercontent.com", "no-such-client"):
        reply = requests.get(emulator.base_url + "/client-json/" + client_id, timeout=30)
        assert reply.status_code == 404 and "GOCSPX-" not in reply.text
