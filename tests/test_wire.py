"""wire.py: one reader each for a number of seconds and a string in OAuth JSON documents (issue 7)."""

from __future__ import annotations

import pytest

from gapps_runbook.errors import ProtocolError
from gapps_runbook.oauth import wire


@pytest.mark.parametrize(("body", "expected"), [({"expires_in": 3599}, 3599), ({"expires_in": "3560"}, 3560),
                                                ({}, 7), ({"expires_in": None}, 7), ({"expires_in": 0}, 0)])
def test_seconds_reads_numbers_and_digit_strings_with_a_default(body: dict, expected: int) -> None:
    assert wire.seconds(body, "expires_in", "token response", default=7) == expected


@pytest.mark.parametrize("value", [-1, "soon", 1.5, True, 2**31, "²"])
def test_seconds_refusal_names_the_document_and_field_never_the_value(value: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        wire.seconds({"expires_in": value}, "expires_in", "token response")
    assert caught.value.message.startswith("the token response: expires_in is not an integer of seconds")
    assert repr(value) not in caught.value.message


def test_seconds_minimum_and_clamp() -> None:
    with pytest.raises(ProtocolError, match="device authorization response: interval"):
        wire.seconds({"interval": 0}, "interval", "device authorization response", minimum=1)
    assert wire.seconds({"expires_in": "-5"}, "expires_in", "token information", clamp=True) == 0


def test_text() -> None:
    assert wire.text({"email": "a@b.c"}, "email", "token information") == "a@b.c"
    assert wire.text({"email": ""}, "email", "token information") is None
    with pytest.raises(ProtocolError, match="^the token information: email is not a string. Fix: "):
        wire.text({"email": 42}, "email", "token information")
    with pytest.raises(ProtocolError, match="^the device authorization response: user_code is missing. Fix: "):
        wire.text({}, "user_code", "device authorization response", required=True)
