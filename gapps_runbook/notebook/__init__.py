"""What the runbook notebooks call: one entry point per notebook.

Each notebook has a ``parameters`` cell, ``from gapps_runbook import notebook as rb`` and one call
per step (:func:`start_here`, :func:`console_checklist`, :func:`client_credentials`,
:func:`authorize`, :func:`token_status`, :func:`backup_restore`). An entry point opens the profile's
:class:`runbook.Site`, decides whether a person is at the keyboard
(:func:`~gapps_runbook.notebook.display.is_interactive`), then either

* runs the step headless (papermill, nbval): results are displayed, a failure is raised as the
  :class:`RunbookError` whose one line ends in "Fix: runbook step NN ...", so papermill stops there; or
* shows the step's form: :mod:`.step00` ... :mod:`.step05`, one module per notebook over
  :mod:`.forms_common` (ipywidgets, imported only then).

Both paths call the same :mod:`gapps_runbook.runbook` functions, directly where a step is one call and
through the ``act_*`` functions of :mod:`gapps_runbook.notebook.actions` where input is parsed or results
combined, so a button click and a papermill run do the same thing. What is shown comes from the pure
renderers of :mod:`gapps_runbook.views.render`, which the CLI prints through too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import runbook
from ..errors import InputError, NoToken, RunbookError
from ..runs.parameters import check_parameters
from .actions import (
    act_check_verify, act_client_from_refs, act_preflight, act_project_id,
    act_sync_checklist, open_site,
)
from ..runbook import state as site_state
from ..runbook.checklist import checklist_complete, checklist_items
from .display import GONE, is_interactive, one_line_errors, show, show_form
from ..profile.files import TOKEN_FILE
from ..views.lastmile import token_file_lines
from ..views.render import (
    checklist_html, checklist_lines, checklist_summary, client_lines, device_code_html, device_code_lines, e,
    link_html, link_lines, overview_html, overview_rows, result_html, result_lines, revoke_rows, snapshot_html,
    status_rows, table_html, table_lines, verdict_html, verdict_lines, verify_html, verify_lines,
)

if TYPE_CHECKING:
    from ..runbook import AuthResult, Site


# --- browsers for the headless desktop flow ---------------------------------------------------


def _browser(kind: str) -> Callable[[str], object]:
    """How a headless run gets the authorization link to a browser."""
    if kind == "none":
        return lambda url: None
    if kind == "system":
        import webbrowser

        return webbrowser.open
    if kind == "emulator":
        return _fetch_on_loopback
    raise InputError(f"browser {kind!r} is not none, system or emulator",
                     fix="pass browser='none' (you open the link) or 'system'")


def _fetch_on_loopback(url: str) -> None:
    """Play the browser against the auto-approving emulator: only for a loopback http issuer."""
    import urllib.parse

    from ..runs.demo import browser_for_emulator
    from ..oauth.endpoints import LOOPBACK_HOSTS

    if urllib.parse.urlsplit(url).hostname not in LOOPBACK_HOSTS:
        raise InputError("browser='emulator' only works with the embedded emulator on loopback",
                         fix="pass browser='none' and open the link yourself")
    browser_for_emulator(url)


# --- entry points: one per notebook -----------------------------------------------------------


@one_line_errors
def start_here(*, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None) -> Any:
    """00: the profile picker and every step's status, with links to the notebooks."""
    if is_interactive(interactive):
        from .step00 import StartHereForm

        return show_form(StartHereForm(profile=profile, home=home, issuer=issuer))
    site = open_site(profile, home, issuer)
    current = site_state.read(site)
    checklist = checklist_summary(dict(current.checklist))
    lines = [f"Profile {profile!r} (one profile per site/server)", *table_lines(overview_rows(current)),
             checklist, *table_lines(status_rows(current.token))]
    inner = (f"<b>Profile {e(profile)}</b>{overview_html(current)}<p>{e(checklist)}</p>"
             f"{table_html(status_rows(current.token))}")
    show("\n".join(lines), snapshot_html(current, inner))
    return None


@one_line_errors
def console_checklist(
    *, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None,
    services: Sequence[str] | None = None, flow: str = "", publishing_status: str = "",
    project_id: str = "",
) -> Any:
    """01: the console steps with deep links, ticks saved in the profile, and the preflight verdict.

    ``services`` None or empty, ``flow`` "" and ``publishing_status`` "" use the profile's saved choices
    (else Calendar + OpenID, ``auto``, unknown): a re-run never resets them; only an explicit value changes them.
    """
    site = open_site(profile, home, issuer)
    if is_interactive(interactive):
        from .step01 import ConsoleChecklistForm

        return show_form(ConsoleChecklistForm(site, services=services or None, flow=flow,
                                              publishing_status=publishing_status, project_id=project_id))
    verdict = act_preflight(site, services, flow, publishing_status, project_id)
    items = checklist_items(verdict, act_project_id(site, project_id))
    ticks = act_sync_checklist(site, items)
    done = checklist_complete(verdict, items, ticks)
    show("\n".join(verdict_lines(verdict) + checklist_lines(items, ticks, done)),
         verdict_html(verdict) + checklist_html(items, ticks, done))
    runbook.raise_for_preflight(verdict)
    return None


@one_line_errors
def client_credentials(
    *, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None,
    product_name: str = "", client_type: str = "", client_secrets_file: str = "", client_id: str = "",
    client_secret_env: str = "", client_secret_file: str = "", project_id: str = "",
) -> Any:
    """02: store product name, client ID and secret; headless runs take references only."""
    refs = {"client_secrets_file": client_secrets_file, "client_id": client_id, "client_secret_env": client_secret_env,
            "client_secret_file": client_secret_file, "product_name": product_name, "client_type": client_type,
            "project_id": project_id}
    check_parameters(refs)
    site = open_site(profile, home, issuer)
    stored = act_client_from_refs(site, **refs)
    if is_interactive(interactive):
        from .step02 import ClientForm

        return show_form(ClientForm(site, product_name=product_name, client_id=client_id,
                                    client_type=client_type, project_id=project_id))
    stored = stored or site.profile.load_client()
    if stored is None:
        raise InputError(f"profile {profile!r} has no client and no reference to one was given",
                         fix="pass client_secrets_file (the JSON from the Clients page), "
                         "or client_id with client_secret_env")
    show("\n".join(client_lines(stored)))
    return None


@one_line_errors
def authorize(
    *, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None,
    services: Sequence[str] = (), flow: str = "auto", timeout: float = 600, browser: str = "none",
    reauthorize: bool = False, expected_account: str = "",
) -> Any:
    """03: "generate the authorization code": device card or Desktop app link, then the stored token."""
    site = open_site(profile, home, issuer)
    if expected_account:
        runbook.pin_account(site, expected_account)
    requested = runbook.requested_scopes(site, services=services)
    if is_interactive(interactive):
        from .step03 import AuthorizeForm

        return show_form(AuthorizeForm(site, requested, flow=flow, timeout=timeout, reauthorize=reauthorize))
    current = None if reauthorize else site_state.already_authorized(site, requested)
    if current is not None:
        head = "Already authorized for these scopes (pass reauthorize=True for a new token):"
        show("\n".join([head, *table_lines(status_rows(current, requested))]))
        return None
    result = _authorize_headless(site, requested, flow, timeout, _browser(browser))
    show(result_lines(result), result_html(result))
    return None


def _authorize_headless(site: Site, requested: tuple[str, ...], flow: str, timeout: float,
                        browse: Callable[[str], object]) -> AuthResult:
    """Run step 03 blocking; the code and link are transient outputs, replaced once the wait ends."""
    shown: list[Any] = []

    def on_code(grant: Any) -> None:
        shown.append(show(device_code_lines(grant), device_code_html(grant), transient=True, display_id=True))

    def open_url(url: str) -> None:
        shown.append(show(link_lines(url), link_html(url), transient=True, display_id=True))
        browse(url)

    try:
        return runbook.authorize(site, requested, flow=runbook.as_flow(flow), on_device_code=on_code, open_url=open_url,
                                 on_status=lambda text: print(f"  {text}", flush=True), timeout=timeout)
    finally:
        for handle in shown:
            if handle is not None:
                handle.update({"text/plain": GONE}, raw=True)


@one_line_errors
def token_status(
    *, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None,
    verify: bool = True, refresh: bool = False, revoke: bool = False,
) -> Any:
    """04: the status panel: token id, expiry, scopes; verify, refresh, revoke with proof."""
    site = open_site(profile, home, issuer)
    if is_interactive(interactive):
        from .step04 import TokenStatusForm

        return show_form(TokenStatusForm(site))
    if refresh:
        runbook.refresh(site)
    st = runbook.status(site)
    show("\n".join(table_lines(status_rows(st))), table_html(status_rows(st)))
    if st.token_id is not None:
        where = token_file_lines(profile, site.profile.file(TOKEN_FILE))
        show("\n".join(where), "<br>".join(e(line) for line in where))
    if not site_state.usable(st) and not revoke:  # as `gapps-runbook status`: no usable token: exit 7
        site.client()  # no client at all: step 02 comes first (ConfigError)
        raise NoToken(f"profile {st.profile!r} holds no usable token (never authorized, revoked, or expired)")
    if verify:
        report = runbook.verify(site)
        show("\n".join(verify_lines(report)), verify_html(report))
        act_check_verify(report)
    if revoke:
        proof = runbook.revoke_and_prove(site)
        show("\n".join(table_lines(revoke_rows(proof))), table_html(revoke_rows(proof)))
        if not proof.ok:
            raise RunbookError("the revocation could not be proven (see the table above)",
                               fix="revoke again, or remove the app at https://myaccount.google.com/permissions")
    return None


@one_line_errors
def backup_restore(
    *, profile: str = "default", home: str = "", issuer: str = "", interactive: bool | None = None,
    profiles: Sequence[str] = (), export_to: str = "", import_from: str = "", passphrase_env: str = "",
    passphrase_file: str = "", force: bool = False, import_as: str = "",
) -> Any:
    """05: export profiles to an age file, or import one and probe it; with neither, each profile's last export.

    Headless runs take the passphrase by reference only (``passphrase_env``, ``passphrase_file``); the
    form asks for it in a Password box. ``profiles`` defaults to ``[profile]``; ``force`` replaces an
    existing profile; ``import_as`` renames the export's only profile. A refused restored grant ends the
    run with :class:`NoToken` ("authorize again (step 03)", exit 7) after every profile was probed.
    """
    from . import backup_actions as backup  # step 05's actions and renderers (kept out of the shared imports)
    from ..views.backup import export_line, import_lines, last_export_rows, outcome_html

    names = [profiles] if isinstance(profiles, str) else list(profiles)
    check_parameters({"profiles": names, "export_to": export_to, "import_from": import_from,
                      "passphrase_env": passphrase_env, "passphrase_file": passphrase_file, "import_as": import_as})
    store = open_site(profile, home, issuer).profile.store
    if is_interactive(interactive):
        from .step05 import BackupRestoreForm

        return show_form(BackupRestoreForm(store, profile=profile, issuer=issuer))
    if export_to and import_from:
        raise InputError("both export_to and import_from were given", fix="run step 05 once for each")
    if export_to:
        backup.check_export(store, names or [profile], export_to)  # refused before the passphrase is read
        result = backup.act_export(store, names or [profile], export_to,
                                   backup.passphrase_from_refs(passphrase_env, passphrase_file))
        show(export_line(result))
    elif import_from:
        outcomes = backup.act_import(store, import_from, backup.passphrase_from_refs(passphrase_env, passphrase_file),
                                     force=force, rename=import_as or None, issuer=issuer or None)
        lines = import_lines(import_from, outcomes)
        show("\n".join(lines), outcome_html(lines, all(o.ok for o in outcomes)))
        backup.raise_for_probes(outcomes)
    else:
        rows = last_export_rows(backup.act_last_exports(store))
        show("\n".join(table_lines(rows)), table_html(rows))
    return None
