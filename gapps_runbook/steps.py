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
    """

    number: str
    notebook: str
    title: str
    aliases: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """How messages name the step: "runbook step 03 (authorize)"."""
        return f"runbook step {self.number} ({self.title})"


STEPS: tuple[Step, ...] = (
    Step("00", "00_start_here", "start here", ("start",)),
    Step("01", "01_console_checklist", "console checklist", ("checklist", "console", "preflight")),
    Step("02", "02_client_credentials", "client credentials", ("client", "credentials")),
    Step("03", "03_authorize", "authorize", ("authorize",)),
    Step("04", "04_token_status", "token status", ("status", "token")),
    Step("05", "05_backup_restore", "backup and restore", ("backup", "restore")),
)

STEP_CHECKLIST = STEPS[1].ref
STEP_CLIENT = STEPS[2].ref
STEP_AUTHORIZE = STEPS[3].ref
STEP_STATUS = STEPS[4].ref
STEP_BACKUP = STEPS[5].ref


def find_step(name: str) -> Step | None:
    """``03``, ``3``, ``03_authorize``, ``03_authorize.ipynb`` or ``authorize`` -> its step; None if unknown."""
    key = name.strip().removesuffix(".ipynb").lower()
    for step in STEPS:
        if key in (step.number, step.notebook, *step.aliases) or (key.isdigit() and int(key) == int(step.number)):
            return step
    return None


# Google Cloud console pages the steps and errors send people to (reference §2).
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
