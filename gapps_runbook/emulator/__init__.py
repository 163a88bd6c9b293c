"""An offline, faithful emulator of Google's OAuth 2.0 endpoints and a few Google APIs.

Answers as Google documents its endpoints (https://accounts.google.com/.well-known/openid-configuration,
https://developers.google.com/identity/protocols/oauth2/limited-input-device and .../native-app): discovery,
``/device/code``, ``/token``, ``/tokeninfo``, ``/revoke``, the consent and verification pages, and
Calendar/Gmail methods with Google's error envelopes. Usage::

    with serve(Emulator(clock=fake_clock)) as running:
        endpoints = discover(transport, running.base_url)
        running.emulator.approve(user_code)

Modules: :mod:`.core` (Emulator), :mod:`.server` (serve, run_forever), :mod:`.authorization_server`
(clients, grants, tokens, faults), :mod:`.device_grant`, :mod:`.code_grant`, :mod:`.authenticate_client`
(body or HTTP Basic credentials), :mod:`.routes` (the URL map), :mod:`.wsgi` (dispatch; typed against
:mod:`.served`), :mod:`.browser`, :mod:`.pages` and :mod:`.landing` (HTML), :mod:`.userinfo_endpoint`
(OpenID Connect UserInfo), :mod:`.apis`
(Calendar, Gmail), :mod:`.faults`, :mod:`.practice` (``--scenario``/``--fault`` values), :mod:`.command`
(the CLI), :mod:`.persist` (the CLI's state file: same clients and grants after a restart), :mod:`.facts`
(Google's values).
"""

from __future__ import annotations

from .authorization_server import FAULTS
from .core import PRODUCT_NAME, Emulator
from .records import RegisteredClient, RequestRecord, Scenario
from .server import RunningEmulator, run_forever, serve

__all__ = ["FAULTS", "PRODUCT_NAME", "Emulator", "RegisteredClient", "RequestRecord", "RunningEmulator", "Scenario",
           "run_forever", "serve"]
