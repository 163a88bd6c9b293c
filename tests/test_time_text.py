"""The time formats of ``oauth/clock.py``: one function per format, each read back by what reads it."""

from __future__ import annotations

import datetime

from gapps_runbook.oauth.clock import iso_utc, iso_utc_z, utc_clock, utc_text

WHEN = 1_796_082_065.75  # 2026-11-30 23:41:05.75 UTC


def test_iso_utc_is_iso_8601_to_the_second_and_reads_back() -> None:
    text = iso_utc(WHEN)
    assert text == "2026-11-30T23:41:05+00:00"
    assert datetime.datetime.fromisoformat(text).timestamp() == int(WHEN)
    assert utc_text(text) == utc_text(WHEN) == "2026-11-30 23:41 UTC"


def test_iso_utc_z_is_what_google_auth_parses() -> None:
    text = iso_utc_z(WHEN)
    assert text == "2026-11-30T23:41:05Z"
    # google/oauth2/credentials.py: strptime(expiry.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S")
    parsed = datetime.datetime.strptime(text.rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S")
    assert parsed.replace(tzinfo=datetime.timezone.utc).timestamp() == int(WHEN)


def test_utc_clock_is_the_time_of_day() -> None:
    assert utc_clock(WHEN) == "23:41 UTC"
    assert utc_clock(WHEN, seconds=True) == "23:41:05 UTC"


def test_utc_text_of_an_unreadable_value_is_empty() -> None:
    assert utc_text("not a time") == ""
