"""django-oauth-toolkit as an independent RFC 8628 provider for tests: a small Django app on loopback.

django-oauth-toolkit (DOT, on oauthlib) is the authorization server many Django sites run. This module
is its smallest deployment: settings in code, a SQLite database in a temporary folder, DOT's own
migrations, DOT's own URL configuration and views, served by werkzeug on 127.0.0.1, port 0, in a thread.
Nothing of the runbook is used here.

Three deployments (:data:`VARIANTS`), each one seen in the wild:

- ``"stock"``: DOT's URLs at the site root, its default settings (OpenID Connect off); the issuer is
  ``http://127.0.0.1:PORT`` and its RFC 8414 metadata is at ``/.well-known/oauth-authorization-server``;
- ``"openid"``: the same with OpenID Connect on (``OIDC_ENABLED``): an OpenID document at
  ``/.well-known/openid-configuration`` without the device endpoint, and UserInfo;
- ``"prefix"``: DOT's URLs under ``/o/``, as its documentation mounts them, OpenID Connect off; the issuer
  has a path (``http://127.0.0.1:PORT/o``) and the metadata is only at the form appended to the issuer,
  ``/o/.well-known/oauth-authorization-server`` (the form Okta's custom authorization servers publish);
  the RFC 8414 §3.1 location and the OpenID document answer 404.

DOT 3.4 implements the device grant (RFC 8628) but lists no ``device_authorization_endpoint`` in its
metadata; the metadata view here is DOT's own with that one key added (RFC 8628 §4), as a site offering
the device flow adds it. Every deployment advertises the device endpoint only there, in RFC 8414 metadata.

Django can be configured once per process: :func:`configure` does it the first time, and each
:func:`serve_dot` empties the database, registers its clients again and sets the two settings that
differ per server (the verification URI's port, ``OIDC_ENABLED``); one server runs at a time. The
person approves through DOT's own views (``/device/``, then ``/device-confirm/...``) with Django's test
client, logged in as :data:`USER`.
"""

from __future__ import annotations

import contextlib
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import django
from django.conf import settings

SCOPE = "calendar:read"
USER = "alice"
EMAIL = "alice@example.org"
CONFIDENTIAL_ID = "kiosk-dot"
CONFIDENTIAL_SECRET = "kiosk-dot-secret-0123456789abcdefghij"
PUBLIC_ID = "tv-dot"
VARIANTS = {"stock": "", "openid": "", "prefix": "/o"}
"""Deployment name -> the issuer's path (DOT's URLs are mounted there)."""
_OPENID = frozenset({"openid"})
"""The deployments with OpenID Connect on."""

_VARIANT_KEY = "dot_provider.variant"  # the WSGI environ key that picks a deployment's URL configuration
_URLCONFS: dict[str, types.ModuleType] = {}


def configure(folder: Path) -> None:
    """Configure Django for DOT (once per process) with its SQLite database in ``folder``, and migrate.

    Args:
        folder: A temporary folder for the database file.
    """
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        LOGGING_CONFIG=None,  # leave the test process's logging as it is
        SECRET_KEY="tests-only-django-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS=["127.0.0.1"],
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                        "oauth2_provider"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware",
                    "dot_provider.variant_middleware"],
        ROOT_URLCONF="dot_provider",
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True}],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(folder / "dot.sqlite3"),
                               "OPTIONS": {"timeout": 20}}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # tests only: hashing is not under test
        OAUTH2_PROVIDER={
            "SCOPES": {SCOPE: "Read calendars", "calendar:write": "Change calendars"},
            "DEFAULT_SCOPES": [SCOPE],
            "DEVICE_FLOW_INTERVAL": 1,  # RFC 8628 §3.2 interval; DOT's default is 5 s
            "OAUTH_DEVICE_VERIFICATION_URI": "http://127.0.0.1/device/",  # set per server by serve_dot
            "ALWAYS_RELOAD_OAUTHLIB_CORE": True,  # so that per-server setting takes effect
        },
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    _URLCONFS.update({name: _urlconf(name, path) for name, path in VARIANTS.items()})


def _device_metadata_view() -> Any:
    """DOT's RFC 8414 metadata view, plus ``device_authorization_endpoint`` (RFC 8628 §4)."""
    import json

    from oauth2_provider.views import OAuthServerMetadataView

    class DeviceMetadataView(OAuthServerMetadataView):
        def get(self, request: Any, *args: Any, **kwargs: Any) -> Any:
            response = super().get(request, *args, **kwargs)
            document = json.loads(response.content)
            document["device_authorization_endpoint"] = self._get_endpoint_url(request, "device-authorization")
            response.content = json.dumps(document).encode()
            return response

    return DeviceMetadataView


def _urlconf(name: str, path: str) -> types.ModuleType:
    """A URL configuration: DOT's URLs (and the metadata view) at ``path``, nothing else."""
    from django.urls import include
    from django.urls import path as route

    prefix = path.strip("/") + "/" if path else ""
    module = types.ModuleType(f"dot_provider_{name}_urls")
    module.urlpatterns = [  # type: ignore[attr-defined]
        route(prefix + ".well-known/oauth-authorization-server", _device_metadata_view().as_view()),
        route(prefix, include("oauth2_provider.urls")),
    ]
    return module


urlpatterns: list[Any] = []
"""``ROOT_URLCONF``: empty; :func:`variant_middleware` picks each request's configuration."""


def variant_middleware(get_response: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Django middleware: the request's URL configuration is its server's deployment's."""

    def middleware(request: Any) -> Any:
        request.urlconf = _URLCONFS[request.META.get(_VARIANT_KEY, "stock")]
        return get_response(request)

    return middleware


@dataclass
class RunningDot:
    """A DOT deployment being served.

    Attributes:
        base_url: The issuer: ``http://127.0.0.1:PORT`` plus the deployment's path.
        variant: A key of :data:`VARIANTS`.
        requests: ``(path, status)`` of every request served, in order.
        auth_seen: ``(path, kind)`` of every request: how it named its client (``"basic"``: an HTTP Basic
            header; ``"basic+client_id"``: that and ``client_id`` in the form; ``"form"``: ``client_id``
            in the form only; ``"none"``), no values kept.
    """

    base_url: str
    variant: str
    requests: list[tuple[str, int]] = field(default_factory=list)
    auth_seen: list[tuple[str, str]] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return VARIANTS[self.variant]

    def pending_user_code(self, timeout: float = 20.0) -> str:
        """The user code of the newest pending device grant, once one exists (polled with a deadline)."""
        from oauth2_provider.models import get_device_grant_model

        model = get_device_grant_model()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            grant = model.objects.filter(status=model.AUTHORIZATION_PENDING).order_by("-id").first()
            if grant is not None:
                return str(grant.user_code)
            time.sleep(0.05)
        raise AssertionError("no device authorization request reached django-oauth-toolkit")

    def approve(self, user_code: str, *, action: str = "accept") -> None:
        """The person: logged in as :data:`USER`, enters ``user_code`` at DOT's ``/device/`` and accepts.

        Goes through DOT's own views (``DeviceUserCodeView``, ``DeviceConfirmView``) in this process.
        """
        from django.contrib.auth import get_user_model
        from django.test import Client

        browser = Client(**{_VARIANT_KEY: self.variant})
        browser.force_login(get_user_model().objects.get(username=USER))
        entered = browser.post(f"{self.prefix}/device/", {"user_code": user_code})
        assert entered.status_code == 302, entered.status_code
        confirmed = browser.post(entered["Location"], {"action": action})
        assert confirmed.status_code == 302, confirmed.status_code

    def polled(self) -> bool:
        """True once the token endpoint has been asked (the client is polling)."""
        return any(path == f"{self.prefix}/token/" for path, _ in list(self.requests))

    def tokens(self) -> dict[str, list[Any]]:
        """DOT's access and refresh token rows, oldest first."""
        from oauth2_provider.models import get_access_token_model, get_refresh_token_model

        return {"access": list(get_access_token_model().objects.order_by("id")),
                "refresh": list(get_refresh_token_model().objects.order_by("id"))}


def _register_clients() -> None:
    """The person and two device clients: one confidential (with a secret), one public (RFC 6749 §2.1)."""
    from django.contrib.auth import get_user_model
    from oauth2_provider.models import get_application_model

    user = get_user_model().objects.create_user(USER, email=EMAIL)
    application = get_application_model()
    device = application.GRANT_DEVICE_CODE
    application.objects.create(name="kiosk", client_id=CONFIDENTIAL_ID, client_secret=CONFIDENTIAL_SECRET,
                               client_type=application.CLIENT_CONFIDENTIAL, authorization_grant_type=device,
                               user=user)
    application.objects.create(name="tv", client_id=PUBLIC_ID, client_secret="",
                               client_type=application.CLIENT_PUBLIC, authorization_grant_type=device, user=user)


@contextlib.contextmanager
def serve_dot(folder: Path, variant: str = "stock") -> Iterator[RunningDot]:
    """Serve DOT's ``variant`` deployment on 127.0.0.1, a free port, in a thread, until the block ends.

    Args:
        folder: Where the SQLite database lives (used by the first call in the process).
        variant: A key of :data:`VARIANTS`.
    """
    configure(folder)  # before DOT's modules: they read the settings when imported
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command
    from django.db import connections
    from oauth2_provider.settings import oauth2_settings
    from werkzeug.serving import WSGIRequestHandler, make_server

    call_command("flush", verbosity=0, interactive=False)
    _register_clients()
    django_app = WSGIHandler()
    running = RunningDot("", variant)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        environ[_VARIANT_KEY] = variant
        status: list[int] = []

        def recording_start(code: str, headers: Any, *rest: Any) -> Any:
            status.append(int(code.split()[0]))
            return start_response(code, headers, *rest)

        path = environ.get("PATH_INFO", "")
        running.auth_seen.append((path, _auth_kind(environ)))
        body = django_app(environ, recording_start)
        running.requests.append((path, status[0] if status else 0))
        return body

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    origin = f"http://127.0.0.1:{server.server_port}"
    running.base_url = origin + VARIANTS[variant]
    settings.OAUTH2_PROVIDER["OAUTH_DEVICE_VERIFICATION_URI"] = f"{running.base_url}/device/"
    settings.OAUTH2_PROVIDER["OIDC_ENABLED"] = variant in _OPENID
    oauth2_settings.reload()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
        connections.close_all()


def _auth_kind(environ: dict[str, Any]) -> str:
    """How a request named its client (see :attr:`RunningDot.auth_seen`); the body is read and put back."""
    import io
    import urllib.parse

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    named = "client_id" in urllib.parse.parse_qs(body.decode("latin-1"))
    if environ.get("HTTP_AUTHORIZATION", "").startswith("Basic "):
        return "basic+client_id" if named else "basic"
    return "form" if named else "none"


def play_person(running: RunningDot, *, action: str = "accept") -> threading.Thread:
    """A thread that, after the client's first poll, approves (or denies) the pending user code as a person would."""

    def act() -> None:
        from django.db import connections

        try:
            code = running.pending_user_code()
            deadline = time.monotonic() + 20
            while not running.polled() and time.monotonic() < deadline:
                time.sleep(0.05)
            running.approve(code, action=action)
        finally:
            connections.close_all()

    thread = threading.Thread(target=act, daemon=True)
    thread.start()
    return thread


__all__ = ["CONFIDENTIAL_ID", "CONFIDENTIAL_SECRET", "EMAIL", "PUBLIC_ID", "SCOPE", "USER", "VARIANTS",
           "RunningDot", "configure", "play_person", "serve_dot"]
