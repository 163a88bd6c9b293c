"""``gapps-runbook run all``: steps 01-04 headless, skipping a step that is done and still valid.

A step is skipped (unless ``--force``) when all three hold:

* its verdict (:func:`gapps_runbook.runbook.state.read`) is ``ok``;
* the inputs it would record now hash to the recorded ``inputs_sha256`` (the same canonical JSON,
  :func:`gapps_runbook.profile.audit.inputs_hash`), worked out from the ``-p`` values and the profile
  as the step itself works them out; and
* for 03, the stored authorization is current for the scopes and account asked now
  (:func:`gapps_runbook.runbook.state.authorization_problem`). 04 is the status check: it always runs.

A value the hash does not cover but that asks for the step runs it too: 01 with a new ``project_id``,
03 with ``reauthorize=True``.

Whatever cannot be worked out (a missing secret variable, an unreachable provider) runs the step, so
the step's own notebook says what is wrong. When 03's inputs changed, or with ``--force``, 03 runs with
``reauthorize=True``: a new authorization for what is asked now, not "already authorized".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import RunbookError
from ..profile import audit
from ..oauth.clock import utc_text
from ..steps import AUTHORIZE, CHECKLIST, CLIENT, STATUS, Step
from .parameters import notebook_parameters

RUN_ALL: tuple[Step, ...] = (CHECKLIST, CLIENT, AUTHORIZE, STATUS)
"""The steps ``run all`` runs, in order: 01 console checklist to 04 token status."""
def step_values(notebook: Path, values: Mapping[str, object]) -> dict[str, object]:
    """The run's values that this step's notebook takes (``-p services`` goes to 01 and 03, ``browser`` to 03)."""
    names = set(notebook_parameters(notebook))
    return {name: value for name, value in values.items() if name in names}


def skip_line(step: Step, values: Mapping[str, object], *, force: bool = False) -> str | None:
    """The line to print instead of running ``step``, or None when it must run.

    Args:
        step: One of :data:`RUN_ALL`.
        values: The values this step would run with (:func:`step_values`).
        force: ``--force``: nothing is skipped.
    """
    if force or not step.skippable:
        return None
    from ..runbook import Site, state

    home = str(values.get("home") or "")
    site = Site.open(str(values.get("profile") or "default"), home=Path(home) if home else None,
                     issuer=str(values.get("issuer") or "") or None)
    verdict = state.read(site).of(step)
    record = (site.profile.load_settings().get("steps") or {}).get(step.record) or {}
    if verdict.verdict != "ok" or _asks_for_more(step, site, values):
        return None
    try:
        current = _current_inputs(step, site, values)
        valid = current is not None and _still_valid(step, site, values)
    except RunbookError:  # cannot tell: the step runs and its notebook says what is wrong
        return None
    if not valid or audit.inputs_hash(current or {}) != record.get("inputs_sha256"):
        return None
    return (f"{step.number} {step.title}: skipped, done {utc_text(verdict.at)} by {verdict.by or 'unknown'}, "
            "inputs unchanged (--force runs it again)")


def _asks_for_more(step: Step, site: Any, values: Mapping[str, object]) -> bool:
    """A value the inputs hash does not cover asks for the step: 01 a new ``project_id``, 03 ``reauthorize``."""
    if step == CHECKLIST:
        project_id = str(values.get("project_id") or "").strip()
        return bool(project_id) and project_id != site.profile.load_settings().get("project_id")
    return step == AUTHORIZE and values.get("reauthorize") is True


def _current_inputs(step: Step, site: Any, values: Mapping[str, object]) -> dict[str, Any] | None:
    """The inputs the step would record now, as ``check_console``, ``save_client`` and ``authorize`` record them."""
    from .. import runbook

    settings = site.profile.load_settings()
    requested = list(runbook.requested_scopes(site, services=_services(values)))
    if step == CHECKLIST:
        return {"scopes": requested, "flow": values.get("flow") or settings.get("chosen_flow") or "auto",
                "publishing_status": values.get("publishing_status") or settings.get("publishing_status") or ""}
    if step == CLIENT:
        return _client_inputs(site, values)
    from ..oauth import scopes

    client = site.profile.load_client()
    if client is None:
        return None
    verdict = scopes.preflight(tuple(requested), flow=runbook.as_flow(str(values.get("flow") or "auto")),
                               endpoints=site.endpoints, client=client)
    account = runbook.status(site).account or ""
    pinned = str(values.get("expected_account") or "")
    return {"scopes": requested, "flow": verdict.flow,
            "account": pinned if pinned and pinned.lower() != account.lower() else account}


def settings_flow(site: Any) -> str:
    """The flow step 01 saved (the client type a client without one gets)."""
    return str(site.profile.load_settings().get("flow") or "")


def _services(values: Mapping[str, object]) -> list[str] | None:
    """The ``-p services`` value as a list of service names, None when not given."""
    given = values.get("services")
    if not given:
        return None
    return [given] if isinstance(given, str) else [str(s) for s in given] if isinstance(given, (list, tuple)) else None


def _client_inputs(site: Any, values: Mapping[str, object]) -> dict[str, Any] | None:
    """Step 02's inputs: the client the references name, else the stored one (nothing new was given).

    The same fields ``runbook.setup._store_client`` records; the secret only as its fingerprint.
    """
    from ..oauth.client_ids import validate_client_id, validate_client_secret
    from ..oauth.clients import ClientConfig, load_client_json
    from ..profile.secret_sources import read_secret
    from ..runbook import as_client_type
    from ..safety.redact import fingerprint

    text = {k: str(values.get(k) or "").strip() for k in ("client_secrets_file", "client_id", "client_secret_env",
                                                          "client_secret_file", "client_type", "product_name",
                                                          "project_id")}
    google = site.endpoints.google_dialect
    if text["client_secrets_file"]:
        client = load_client_json(Path(text["client_secrets_file"]).expanduser(), endpoints=site.endpoints,
                                  client_type=text["client_type"] or None, product_name=text["product_name"])
        client = dataclasses.replace(client, auth_method=None)
    elif text["client_id"]:
        secret = read_secret(env=text["client_secret_env"] or None,
                             file=Path(text["client_secret_file"]).expanduser() if text["client_secret_file"] else None)
        client = ClientConfig(client_id=validate_client_id(text["client_id"], google=google),
                              client_secret=validate_client_secret(secret, google=google) if secret else "",
                              client_type=as_client_type(text["client_type"] or str(settings_flow(site))),
                              product_name=text["product_name"], project_id=text["project_id"] or None)
    else:
        client = site.profile.load_client()
    if client is None:
        return None
    return {"client_id": client.client_id, "client_type": client.client_type, "product_name": client.product_name,
            "project_id": client.project_id, "auth_method": client.auth_method,
            "secret_fingerprint": fingerprint(client.client_secret) if client.client_secret else ""}


def _still_valid(step: Step, site: Any, values: Mapping[str, object]) -> bool:
    """01 and 02: their ok verdict; 03: the stored authorization is current for the scopes and account asked now."""
    if step != AUTHORIZE:
        return True
    from .. import runbook

    requested = runbook.requested_scopes(site, services=_services(values))
    pinned = str(values.get("expected_account") or "") or None
    return runbook.state.authorization_problem(site, runbook.status(site), requested, pinned=pinned) is None
