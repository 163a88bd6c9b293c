"""The runbook's steps, defined once: number, notebook, title, the words that name them, and the
Google Cloud console pages they send people to.

Errors point at a step ("Fix: run runbook step 03 (authorize)"), ``gapps-runbook run`` resolves a
step name to its notebook, and ``00_start_here`` lists them: all from :data:`STEPS`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    """One step of the vendor procedure and the notebook that runs it.

    Attributes:
        number: Two digits, as in the notebook's name ("03").
        notebook: The notebook's name without ``.ipynb``.
        title: What the step is called in the notebooks and errors ("authorize").
        aliases: Words ``gapps-runbook run`` accepts for it.
        record: The key of the step's record in the profile's settings (``steps.<record>``, written by
            ``runbook.Site.mark``); "" for 00, which records nothing.
        rests_on: The facts of the profile the step's result depends on (``runbook.state.FACTS``): each
            record keeps their values, and a record whose facts have changed since is *stale*.
        done: The result words of an ok record that says nothing more ("client stored").
        skippable: ``run all`` skips the step when its verdict is ok and its inputs are unchanged.
    """

    number: str
    notebook: str
    title: str
    aliases: tuple[str, ...] = ()
    record: str = ""
    rests_on: tuple[str, ...] = ()
    done: str = ""
    skippable: bool = False

    @property
    def ref(self) -> str:
        """How messages name the step: "runbook step 03 (authorize)"."""
        return f"runbook step {self.number} ({self.title})"


START = Step("00", "00_start_here", "start here", ("start",))
CHECKLIST = Step("01", "01_console_checklist", "console checklist", ("checklist", "console", "preflight"),
                 record="preflight", rests_on=("client_id", "client_type"), done="preflight passed",
                 skippable=True)
"""01 rests on the client: its verdict checks the client type against the flow."""
CLIENT = Step("02", "02_client_credentials", "client credentials", ("client", "credentials"),
              record="client", rests_on=("flow",), done="client stored", skippable=True)
"""02 rests on 01's flow: the client's type must be the one that flow needs."""
AUTHORIZE = Step("03", "03_authorize", "authorize", ("authorize",),
                 record="authorize", rests_on=("flow", "scopes", "client_id"), done="authorized", skippable=True)
"""03 rests on 01's flow and scopes and on 02's client: a token belongs to one client and its scopes."""
STATUS = Step("04", "04_token_status", "token status", ("status", "token"),
              record="verify", rests_on=("token_id",), done="verified")
"""04's verdict is its verify result, which belongs to the token it checked."""
BACKUP = Step("05", "05_backup_restore", "backup and restore", ("backup", "restore"),
              record="export", rests_on=("token_id",), done="exported")
"""05's verdict is the last export, which restores the token it held."""

STEPS: tuple[Step, ...] = (START, CHECKLIST, CLIENT, AUTHORIZE, STATUS, BACKUP)

STEP_CHECKLIST = CHECKLIST.ref
STEP_CLIENT = CLIENT.ref
STEP_AUTHORIZE = AUTHORIZE.ref
STEP_STATUS = STATUS.ref
STEP_BACKUP = BACKUP.ref


def by_record(record: str) -> Step | None:
    """The step whose record is ``record`` ("authorize" -> 03), or None (04's refresh and revoke records)."""
    return next((step for step in STEPS if step.record and step.record == record), None)


def find_step(name: str) -> Step | None:
    """``03``, ``3``, ``03_authorize``, ``03_authorize.ipynb`` or ``authorize`` -> its step; None if unknown."""
    key = name.strip().removesuffix(".ipynb").lower()
    for step in STEPS:
        if key in (step.number, step.notebook, *step.aliases) or (key.isdigit() and int(key) == int(step.number)):
            return step
    return None


# Google Cloud console pages the steps and errors send people to (Google's device-flow guide,
# https://developers.google.com/identity/protocols/oauth2/limited-input-device#creatingcred).
CONSOLE_CREDENTIALS = "https://console.cloud.google.com/apis/credentials"
CONSOLE_CONSENT = "https://console.cloud.google.com/auth/audience"
CONSOLE_LIBRARY = "https://console.cloud.google.com/apis/library"
GOOGLE_PERMISSIONS = "https://myaccount.google.com/permissions"

PROVIDER_PAGES = {
    CONSOLE_CREDENTIALS: "the client's settings at the provider ({issuer})",
    CONSOLE_CONSENT: "the provider's consent settings ({issuer})",
    CONSOLE_LIBRARY: "the provider's API settings ({issuer})",
    GOOGLE_PERMISSIONS: "the provider's account page ({issuer})",
}
"""What each Google console page is called when the issuer is another provider (Keycloak, Okta...)."""
