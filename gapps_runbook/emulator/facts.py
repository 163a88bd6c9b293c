"""Google's wire facts the emulator follows: scopes, lifetimes, texts and the shapes of ids and secrets.

Public sources; the emulator's modules cite them by these names:

- the device-flow guide, https://developers.google.com/identity/protocols/oauth2/limited-input-device:
  the allow-list (``#allowedscopes``), the device code answer and its lifetimes (Step 2), the polling
  answers and their statuses (Step 6), the token answer (``#access-granted``) and revocation (``#tokenrevoke``);
- the installed-app guide, https://developers.google.com/identity/protocols/oauth2/native-app: the loopback flow;
- the overview, https://developers.google.com/identity/protocols/oauth2#expiration: refresh-token expiry;
- the discovery document, https://accounts.google.com/.well-known/openid-configuration;
- the client-secrets format, https://googleapis.github.io/google-api-python-client/docs/client-secrets.html;
- the OAuth2ForDevices page as Google published it before 2016 (``#allowedscopes``): the LEGACY list.

Error texts Google does not document (``Unauthorized``, ``client_secret is missing.``, ``Token has been
expired or revoked.``, ``Invalid Value``) and the id and secret shapes are those of real answers quoted
in public client libraries' issues and fixtures. Values no public source confirms are marked
[UNCONFIRMED] where they are used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import string
from collections.abc import Iterable

AUTH = "https://www.googleapis.com/auth/"
USERINFO_EMAIL = AUTH + "userinfo.email"
USERINFO_PROFILE = AUTH + "userinfo.profile"
SHORT_SCOPES = {"email": USERINFO_EMAIL, "profile": USERINFO_PROFILE}

#: Device-flow guide, "Allowed scopes": "The OAuth 2.0 flow for devices is supported only for the following scopes".
DEVICE_ALLOWED_SCOPES = frozenset(
    {"email", "openid", "profile", USERINFO_EMAIL, USERINFO_PROFILE}
    | {AUTH + s for s in ("drive.appdata", "drive.file", "youtube", "youtube.readonly")}
)
#: OAuth2ForDevices before 2016: the LEGACY device-flow list, when Calendar and Contacts were allowed.
#: Only ``legacy_device_scopes=True`` uses it; Google rejects these scopes today.
LEGACY_DEVICE_SCOPES = DEVICE_ALLOWED_SCOPES | frozenset(
    {AUTH + s for s in ("calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly")}
    | {AUTH + s for s in ("contacts", "contacts.readonly", "plus.me", "youtube.upload")}
    | {AUTH + s for s in ("analytics", "analytics.readonly", "fusiontables", "cloudprint")}
    | {"https://www.google.com/m8/feeds"}
)
#: Overview, "Refresh token expiration": Testing-mode refresh tokens do not expire when only these are granted.
BASIC_SCOPES = frozenset({"openid", USERINFO_EMAIL, USERINFO_PROFILE})
_SCOPE_SHAPE = re.compile(r"^https://www\.googleapis\.com/auth/[a-z0-9][a-z0-9._-]*$")
_OTHER_SCOPES = frozenset({"openid", "email", "profile", "https://mail.google.com/", "https://www.google.com/m8/feeds"})

DEVICE_CODE_LIFETIME = 1800  # device-flow guide, Step 2: expires_in
DEVICE_INTERVAL = 5  # device-flow guide, Step 2: interval
SLOW_DOWN_STEP = 5  # RFC 8628 §3.5: "increased by 5 seconds"
POLL_TOLERANCE = 0.5  # not Google's: forgives network jitter between two polls on the real clock
ACCESS_TOKEN_LIFETIME = 3599  # expires_in 3599 in real responses
ID_TOKEN_LIFETIME = 3600
AUTH_CODE_LIFETIME = 600  # [UNCONFIRMED] Google's codes are short-lived; 10 minutes assumed
TESTING_REFRESH_LIFETIME = 604799  # overview: refresh_token_expires_in in Testing mode (7 days minus 1 s)

NOT_FOUND = "The OAuth client was not found."  # observed
WRONG_TYPE = (
    "Only clients of type 'TVs and Limited Input devices' can use the OAuth 2.0 flow for TV and "
    "Limited-Input Device Applications. Please create and use an appropriate client."
)  # observed
WRONG_TYPE_URI = "https://developers.google.com/identity/protocols/oauth2/limited-input-device#creatingcred"
NO_CLIENT_ID = "Could not determine client ID from request."  # [UNCONFIRMED] text
SECRET_MISSING = "client_secret is missing."  # observed
SECRET_WRONG = "Unauthorized"  # observed
EXPIRED_OR_REVOKED = "Token has been expired or revoked."  # observed
MALFORMED_CODE = "Malformed auth code."  # observed
INVALID_VALUE = "Invalid Value"  # observed
REVOKE_FAILED = "Token expired or revoked"  # [UNCONFIRMED] text

CLIENT_TYPES = ("device", "desktop", "web")
CLIENT_LABELS = {"device": "TVs and Limited Input devices", "desktop": "Desktop app", "web": "Web application"}
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # RFC 8628 §6.1 base-20; upper case as Google's samples
_SECRET_CHARS = string.ascii_letters + string.digits + "-_"


def split_scopes(value: str) -> list[str]:
    """The scopes of a space-delimited ``scope`` parameter, duplicates dropped, order kept."""
    return list(dict.fromkeys(value.split()))


def is_known_scope(scope: str) -> bool:
    """True if ``scope`` has the shape of a Google scope (short OpenID names or an auth URL)."""
    return scope in _OTHER_SCOPES or bool(_SCOPE_SHAPE.match(scope))


def first_disallowed_device_scope(scopes: Iterable[str], *, legacy: bool) -> str | None:
    """The first scope the device flow refuses (Google's ``invalid_scope`` names one scope), or None."""
    allowed = LEGACY_DEVICE_SCOPES if legacy else DEVICE_ALLOWED_SCOPES
    return next((s for s in scopes if s not in allowed), None)


def granted_scopes(requested: Iterable[str]) -> tuple[str, ...]:
    """Scopes as Google grants them: ``email``/``profile`` become ``userinfo.*`` plus ``openid``.

    As in the device-flow guide's ``#access-granted`` sample.
    """
    requested = list(requested)
    granted = [SHORT_SCOPES.get(s, s) for s in requested]
    if any(s in SHORT_SCOPES for s in requested):
        granted.append("openid")
    return tuple(dict.fromkeys(granted))


def _secret_chars(length: int) -> str:
    """``length`` uniformly random characters of :data:`_SECRET_CHARS`, which is exactly base64url's alphabet:
    each character of ``token_urlsafe`` carries 6 random bits (one call, not one ``choice`` per character:
    a device code's 92 characters cost 0.3 ms that way, most of ``/device/code``'s time under load, B6)."""
    return secrets.token_urlsafe(length)[:length]  # length bytes give 4/3 length characters: never the short last one


def random_secret(kind: str) -> str:
    """A fresh value shaped like Google's for ``kind`` (observed shapes)."""
    if kind == "client_secret":
        return "GOCSPX-" + _secret_chars(28)
    prefix, length = {
        "access_token": ("ya29.a0", 156),
        "refresh_token": ("1//0", 99),
        "device_code": ("AH-1Ng", 92),
        "auth_code": ("4/0A", 70),
    }.get(kind, ("", 40))
    return prefix + _secret_chars(length)


def random_client_id(project_number: str | None = None) -> str:
    """``<12 digits>-<32 lowercase alnum>.apps.googleusercontent.com`` (the console's IDs)."""
    number = project_number or str(secrets.randbelow(9 * 10**11) + 10**11)
    tail = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(32))
    return f"{number}-{tail}.apps.googleusercontent.com"


def project_of(client_id: str) -> str:
    """The project a client belongs to: the number before the dash of a Google-shaped id."""
    match = re.match(r"^(\d+)-", client_id)
    return match.group(1) if match else client_id


def new_user_code() -> str:
    """A case-sensitive ``XXXX-XXXX`` user code (the guide's Step 2 sample), uniform over the alphabet.

    From one ``secrets.token_bytes`` call (bytes at or past the largest multiple of 20 are skipped), not a
    ``secrets.choice`` per letter: each of those is an ``os.urandom`` call that lets the GIL go, and under
    a burst of 200 ``/device/code`` requests every such hand-off is another thread switch (B6).
    """
    size = len(USER_CODE_ALPHABET)
    limit = 256 - 256 % size
    letters: list[str] = []
    while len(letters) < 8:
        letters += [USER_CODE_ALPHABET[b % size] for b in secrets.token_bytes(12) if b < limit]
    return f"{''.join(letters[:4])}-{''.join(letters[4:8])}"


def subject_of(account: str) -> str:
    """A stable 21-digit ``sub`` for an account, as Google's numeric subject ids look."""
    digest = int(hashlib.sha256(account.lower().encode("utf-8")).hexdigest(), 16)
    return "1" + str(digest % 10**20).zfill(20)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def id_token(*, issuer: str, client_id: str, key: str, account: str, scopes: Iterable[str], now: float) -> str:
    """A JWT-shaped id_token, HS256-signed with the client secret (Google signs RS256: emulator only)."""
    scopes = set(scopes)
    claims: dict[str, object] = {
        "iss": issuer,
        "azp": client_id,
        "aud": client_id,
        "sub": subject_of(account),
        "iat": int(now),
        "exp": int(now) + ID_TOKEN_LIFETIME,
    }
    if USERINFO_EMAIL in scopes:
        claims.update(email=account, email_verified=True)
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(key.encode("utf-8"), f"{header}.{payload}".encode("ascii"), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def pkce_matches(challenge: str, method: str, verifier: str) -> bool:
    """RFC 7636 §4.6: S256 compares BASE64URL(SHA256(verifier)); plain compares as is."""
    if method == "S256":
        computed = _b64(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
    else:
        computed = verifier
    return hmac.compare_digest(computed.encode(), challenge.encode("utf-8", "replace"))
