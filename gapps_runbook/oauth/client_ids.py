"""Client ID and secret shapes: check what the user pasted and name the usual copy-paste slips.

Google's shapes, as the Google Cloud console issues them: the ID is ``<project number>-<32 lowercase letters and digits>
.apps.googleusercontent.com``; the secret is ``GOCSPX-`` plus 28 characters, or 24 characters with no
prefix for clients made before about 2021. Other providers get only "printable, no spaces".

Every secret checked is passed to :func:`redact.register_secret` first, and no message contains the
value: IDs are described, not echoed, since a secret may have been pasted into the ID field.
"""

from __future__ import annotations

import re

from ..errors import CONSOLE_CREDENTIALS, STEP_CLIENT, InputError
from ..safety.redact import register_secret

_ID_RE = re.compile(r"[0-9]+-[a-z0-9]{32}\.apps\.googleusercontent\.com")
_ID_NO_SUFFIX_RE = re.compile(r"[0-9]+-[a-z0-9]{32}")
_SECRET_RE = re.compile(r"GOCSPX-[A-Za-z0-9_-]{28}")
_LEGACY_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{24}")
_ID_SUFFIX = ".apps.googleusercontent.com"
_FIX_CLIENT = f"copy it from the console's Clients page ({CONSOLE_CREDENTIALS}) in {STEP_CLIENT}"


def _check_pasted(value: str, what: str, thing: str) -> None:
    """The copy-paste slips every field shares: empty, wrapped in spaces or quotes, spaces or control characters."""
    if not value:
        raise InputError(f"{what} is empty", fix=_FIX_CLIENT)
    if _surrounded(value):
        raise InputError(f"{what} has spaces or quotes around it; paste only the {thing} itself", fix=_FIX_CLIENT)
    if not _plain_token(value):
        raise InputError(f"{what} contains spaces or unprintable characters", fix=_FIX_CLIENT)


def _surrounded(value: str) -> bool:
    """True if ``value`` has whitespace or quotes around it (a copy-paste slip)."""
    return value != value.strip() or (len(value) >= 2 and value[0] in "\"'" and value[-1] in "\"'")


def _plain_token(value: str) -> bool:
    """Non-empty, printable, no whitespace: what any provider's ID or secret looks like."""
    return bool(value) and value.isprintable() and not any(c.isspace() for c in value)


def validate_client_id(value: str, *, google: bool) -> str:
    """Check a client ID's shape and name the usual copy-paste mistakes.

    Args:
        value: The client ID as the user gave it.
        google: Apply Google's shape (the module docstring); otherwise only "printable, no spaces".

    Returns:
        The client ID, unchanged.

    Raises:
        InputError: One line naming the mistake and the Clients page. The value is never quoted:
            it may be a secret pasted into the wrong field.
    """
    what = "the client ID"
    _check_pasted(value, what, "ID")
    if _ID_RE.fullmatch(value) or (not google and "GOCSPX-" not in value):
        return value  # any provider: a Google secret in the ID field would travel in URLs and show on screen
    raise InputError(f"{what} {_id_mistake(value)}", fix=_FIX_CLIENT)


def _id_mistake(value: str) -> str:
    """Describe what is wrong with a Google client ID that failed the shape check."""
    if "GOCSPX-" in value or _SECRET_RE.fullmatch(value) or _LEGACY_SECRET_RE.fullmatch(value):
        register_secret(value)
        return "looks like the client secret, not the ID; the ID ends in .apps.googleusercontent.com"
    if value.isdigit():
        return (
            "is only a project number; the client ID is "
            "<project number>-<32 letters and digits>.apps.googleusercontent.com"
        )
    if _ID_NO_SUFFIX_RE.fullmatch(value):
        return "is missing its .apps.googleusercontent.com ending; copy the whole ID"
    if _ID_RE.fullmatch(value.lower()):
        return "has capital letters; Google client IDs are lowercase, so copy it again"
    return (
        f"is not shaped like <project number>-<32 letters and digits>{_ID_SUFFIX} "
        f"({len(value)} characters; Google's are about 72)"
    )


def validate_client_secret(value: str, *, google: bool) -> str:
    """Check a client secret's shape; the value is registered for redaction first.

    Args:
        value: The secret as the user gave it.
        google: Apply Google's shapes (``GOCSPX-`` + 28 characters, or a legacy 24-character secret).

    Returns:
        The secret, unchanged.

    Raises:
        InputError: One line naming the mistake and the Clients page, never containing the secret.
    """
    register_secret(value)
    what = "the client secret"
    _check_pasted(value, what, "secret")
    if not google or _SECRET_RE.fullmatch(value) or _LEGACY_SECRET_RE.fullmatch(value):
        return value
    if value.endswith(_ID_SUFFIX) or _ID_NO_SUFFIX_RE.fullmatch(value):
        raise InputError(f"{what} is the client ID; paste the secret (it starts with GOCSPX-)", fix=_FIX_CLIENT)
    if value.startswith("GOCSPX-"):
        raise InputError(
            f"{what} has {len(value)} characters; GOCSPX- secrets have 35, so it was cut or has extra text",
            fix=_FIX_CLIENT,
        )
    raise InputError(
        f"{what} is not shaped like a Google secret (GOCSPX- and 28 characters, or 24 for old clients)",
        fix=_FIX_CLIENT,
    )
