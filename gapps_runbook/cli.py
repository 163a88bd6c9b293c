"""The ``gapps-runbook`` command: every runbook step, headless.

Each command is one call into :mod:`gapps_runbook.runbook`; this module only parses options and
prints, through the same renderers as the notebooks (:mod:`gapps_runbook.views.render`). Errors print
as one line on stderr and exit with the code of their kind (see EXIT CODES).

The steps and the renderers are imported inside the commands that use them, and the commands of
:mod:`gapps_runbook.commands` load when run (:class:`~gapps_runbook.commands.LazyGroup`): ``--help``
needs neither (figure B2 in docs/performance.md).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from .oauth import scopes
from .oauth.client_ids import validate_client_id
from .oauth.clock import utc_clock
from .runs.parameters import literal as _literal  # noqa: F401  (the -p parser, as tests/test_leaks reads it)
from .commands import CLIENT_COMMANDS, COMMANDS, LazyGroup  # names and short help only: no command module imported
from .errors import GOOGLE_PERMISSIONS, ExitCode, InputError, NotebookRunError, RunbookError
from .safety.redact import redact
from .profile.secret_sources import read_secret, terminal_prompt

if TYPE_CHECKING:
    from . import runbook

EXIT_CODES_HELP = """\b
Exit codes:
  0  success
  1  unexpected failure (a bug: please report it)
  2  bad input: fix the value and run again
  3  misconfigured: console/client/scopes (preflight, invalid_client, invalid_scope)
  4  denied: the user or an admin refused (access_denied, wrong account)
  5  expired or timed out: the code expired, the wait timed out or was cancelled
  6  network or server trouble: retry later
  7  token no longer valid: authorize again (step 03)
"""

SERVICE_CHOICE = click.Choice(sorted(scopes.SERVICES))
FLOW_CHOICE = click.Choice(["auto", "device", "desktop"])


def _site(ctx: click.Context) -> runbook.Site:
    from . import runbook
    obj = ctx.find_root().obj
    if "site" not in obj:
        obj["site"] = runbook.Site.open(obj["profile"], home=obj["home"], issuer=obj["issuer"])
    return obj["site"]


def _emit(data: Any, as_json: bool, lines: list[str]) -> None:
    """Print ``data`` as JSON, or the text ``lines``."""
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else "\n".join(lines))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EXIT_CODES_HELP)
@click.option("--profile", default="default", envvar="GAPPS_RUNBOOK_PROFILE", show_default=True,
              help="Profile name: one per site/server. Env: GAPPS_RUNBOOK_PROFILE.")
@click.option("--issuer", envvar="GAPPS_RUNBOOK_ISSUER", default=None,
              help="OAuth issuer URL read by discovery (default: Google, built in). Env: GAPPS_RUNBOOK_ISSUER.")
@click.option("--home", envvar="GAPPS_RUNBOOK_HOME", type=click.Path(path_type=Path), default=None,
              help="Where profiles live (default: the per-user config dir). Env: GAPPS_RUNBOOK_HOME.")
@click.version_option(package_name="gapps-runbook")
@click.pass_context
def cli(ctx: click.Context, profile: str, issuer: str | None, home: Path | None) -> None:
    """Connect an installed application to Google Workspace APIs with OAuth 2.0, step by step.

    \b
    Steps:  preflight -> client set -> authorize -> status / verify / refresh / revoke
    Try it offline first:  gapps-runbook demo
    """
    ctx.obj = {"profile": profile, "issuer": issuer, "home": home}


@cli.group(cls=LazyGroup)
def client() -> None:
    """Step 02: the OAuth client (product name, client ID, secret)."""


@client.command("set")
@click.option("--product-name", default="", help="The product name shown on the consent screen.")
@click.option("--client-id", default=None, help="Client ID from the console's Clients page.")
@click.option("--client-type", type=click.Choice(["device", "desktop"]), default=None,
              help="device = 'TVs and Limited Input devices'; desktop = 'Desktop app'.")
@click.option("--client-json", type=click.Path(path_type=Path), default=None,
              help="The client JSON downloaded from the console (holds ID and secret).")
@click.option("--secret-env", metavar="VAR", default=None,
              help="Read the client secret from this environment variable.")
@click.option("--secret-file", type=click.Path(path_type=Path), default=None,
              help="Read the client secret from this file (0600).")
@click.option("--no-secret", is_flag=True,
              help="A public client without a secret (RFC 6749 §2.1): other providers only, never Google.")
@click.option("--project-id", default=None, help="Google Cloud project id (for console deep links).")
@click.option("--auth-method", type=click.Choice(["client_secret_basic", "client_secret_post", "none"]), default=None,
              help="Pin the token endpoint's client authentication (RFC 6749 §2.3.1). Default: from discovery.")
@click.pass_context
def client_set(ctx: click.Context, product_name: str, client_id: str | None, client_type: str | None,
               client_json: Path | None, secret_env: str | None, secret_file: Path | None, no_secret: bool,
               project_id: str | None, auth_method: str | None) -> None:
    """Store the client. The secret never comes from the command line: env, file, JSON or a prompt."""
    from . import runbook
    site = _site(ctx)
    if client_json is not None:
        extra = [flag for flag, given in (("--client-id", client_id), ("--secret-env", secret_env),
                                          ("--secret-file", secret_file), ("--no-secret", no_secret),
                                          ("--project-id", project_id)) if given]
        if extra:
            raise InputError(f"{extra[0]} cannot be combined with --client-json, which holds the client's ID, "
                             "secret and project", fix=f"pass --client-json without {', '.join(extra)}")
        stored = runbook.import_client_json(site, client_json,
                                            client_type=runbook.as_client_type(client_type) if client_type else None,
                                            product_name=product_name, auth_method=auth_method)
    else:
        if not client_id or not client_type:
            raise InputError("--client-id and --client-type are needed without --client-json",
                             fix="pass both, or --client-json with the file downloaded from the Clients page")
        if no_secret and (secret_env is not None or secret_file is not None):
            raise InputError("--no-secret cannot be combined with --secret-env or --secret-file",
                             fix="pass --no-secret only for a public client, which has no secret")
        validate_client_id(client_id, google=site.endpoints.google_dialect)  # before asking for the secret
        asked = secret_env is None and secret_file is None
        prompt = terminal_prompt(
            lambda: click.prompt("Client secret", hide_input=True, err=True), what="client secret",
            fix="use --secret-env VAR, --secret-file PATH (0600) or --client-json PATH, or run it in a terminal",
        ) if asked else None
        secret = "" if no_secret else read_secret(env=secret_env, file=secret_file, prompt=prompt)
        stored = runbook.save_client(site, client_id=client_id, client_secret=secret,
                                     client_type=runbook.as_client_type(client_type),
                                     product_name=product_name, project_id=project_id, auth_method=auth_method)
    click.echo(f"Saved client {stored.client_id} ({stored.client_type}) in profile {site.profile.name!r}.")


@client.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def client_show(ctx: click.Context, as_json: bool) -> None:
    """Show the stored client; the secret only as a fingerprint."""
    from .views import render
    stored = _site(ctx).client()
    data = {k: getattr(stored, k) for k in ("product_name", "client_id", "client_type", "project_id", "auth_method")}
    _emit({**data, "client_secret": render.secret_text(stored)}, as_json, render.client_lines(stored))


def _scope_options(func: Any) -> Any:
    func = click.option("--service", "services", multiple=True, type=SERVICE_CHOICE,
                        help="Google service to integrate (repeatable). Default: calendar + openid.")(func)
    func = click.option("--scope", "scope_list", multiple=True, help="Extra OAuth scope (repeatable).")(func)
    func = click.option("--flow", type=FLOW_CHOICE, default="auto", show_default=True,
                        help="device = TVs/limited input; desktop = loopback + PKCE.")(func)
    legacy_help = "Allow Calendar in the device flow (emulator's legacy mode only; Google rejects it)."
    return click.option("--legacy-device-scopes", is_flag=True, help=legacy_help)(func)


@cli.command()
@_scope_options
@click.option("--publishing-status", type=click.Choice(["testing", "production"]), default=None,
              help="The consent screen's publishing status (Audience page).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def preflight(ctx: click.Context, services: tuple[str, ...], scope_list: tuple[str, ...], flow: str,
              legacy_device_scopes: bool, publishing_status: str | None, as_json: bool) -> None:
    """Step 01: which flow and client type these scopes need; no network call to Google."""
    from . import runbook
    from .views import render
    site = _site(ctx)
    requested = runbook.requested_scopes(site, services=services, scope_list=scope_list)
    result = runbook.check_console(site, requested, flow=runbook.as_flow(flow),
                                   publishing_status=runbook.as_publishing_status(publishing_status),
                                   legacy_device_scopes=legacy_device_scopes)
    _emit(result.to_json(), as_json, render.verdict_lines(result))
    if not result.ok:
        ctx.exit(ExitCode.MISCONFIGURED)


@cli.command()
@_scope_options
@click.option("--json", "as_json", is_flag=True, help="Print the code/link and the result as JSON lines.")
@click.option("--no-browser", is_flag=True, help="Print the authorization link; do not open a browser.")
@click.option("--paste", is_flag=True, help="Desktop flow on a remote machine: paste the URL the browser was sent to.")
@click.option("--timeout", type=click.FloatRange(min=1), default=None,
              help="Stop waiting after this many seconds (default: the device code's lifetime; 300 s for the "
                   "Desktop app flow).")
@click.option("--expected-account", default=None, metavar="EMAIL",
              help="Pin the Google account that must approve (saved in the profile; '' unpins).")
@click.pass_context
def authorize(ctx: click.Context, services: tuple[str, ...], scope_list: tuple[str, ...], flow: str,
              legacy_device_scopes: bool, as_json: bool, no_browser: bool, paste: bool, timeout: float | None,
              expected_account: str | None) -> None:
    """Step 03: "generate the authorization code", wait for approval, store the token.

    The token is stored only if the approving account is the pinned one (when a pin is set).
    """
    import webbrowser

    from . import runbook
    from .views import render
    site = _site(ctx)
    if expected_account is not None:
        runbook.pin_account(site, expected_account)
    requested = runbook.requested_scopes(site, services=services, scope_list=scope_list)

    def on_code(grant: Any) -> None:
        complete = getattr(grant, "verification_uri_complete", None)
        event = {"event": "user_code", "user_code": grant.user_code, "verification_url": grant.verification_uri,
                 "expires_in": grant.expires_in, **({"verification_uri_complete": complete} if complete else {})}
        click.echo(json.dumps(event) if as_json else render.device_code_lines(grant))

    def open_url(url: str) -> None:
        click.echo(json.dumps({"event": "authorization_url", "url": url}) if as_json else render.link_lines(url))
        if not as_json:
            click.echo(f"Waiting up to {timeout or runbook.DESKTOP_TIMEOUT:g} s for the browser to come back "
                       "(Ctrl-C stops).", err=True)
        if not no_browser:
            webbrowser.open(url)

    status_line = StatusLine(sys.stderr)
    if paste:
        result = runbook.authorize_by_paste(site, requested, show_url=open_url,
                                            ask=lambda: click.prompt("Paste the URL your browser was redirected to"))
    else:
        try:
            result = runbook.authorize(site, requested, flow=runbook.as_flow(flow),
                                       legacy_device_scopes=legacy_device_scopes, on_device_code=on_code,
                                       on_status=None if as_json else status_line.show, open_url=open_url,
                                       timeout=timeout)
        finally:
            status_line.end()
    if as_json:  # JSON lines throughout: the events above, then this one
        click.echo(json.dumps({"event": "authorized", **runbook.state.read(site).to_json(), "flow": result.flow}))
    else:
        _print_status(ctx, site, False, header=f"Authorized with the {result.flow} flow.")


class StatusLine:
    """The device flow's wait as one line on ``stream``: rewritten in place on a terminal, a new line per
    change when piped (a log keeps every distinct status, never the same one every 5 s).

    Args:
        stream: Where the line goes (stderr: stdout stays the result).
        tty: Whether ``stream`` is a terminal; read from the stream when not given.
    """

    def __init__(self, stream: IO[str], *, tty: bool | None = None) -> None:
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._last = ""
        self._width = 0

    def show(self, text: str) -> None:
        """Show the status ``text`` (the poller's words, "waiting for approval")."""
        if self._tty:
            line = f"  {text} (checked {utc_clock(time.time(), seconds=True)})"
            self._stream.write("\r" + line.ljust(self._width))
            self._width = max(self._width, len(line))
        elif text != self._last:
            self._stream.write(f"  {text}\n")
        self._last = text
        self._stream.flush()

    def end(self) -> None:
        """Finish the line on a terminal, so what follows starts on its own line."""
        if self._tty and self._width:
            self._stream.write("\n")
            self._stream.flush()
            self._width = 0


def _print_status(ctx: click.Context, site: runbook.Site, as_json: bool, header: str = "") -> None:
    """The status panel (the notebooks' rows) and every step's verdict; exit 7 when no usable token is held."""
    from . import runbook
    from .views import render
    current = runbook.state.read(site)
    lines = render.table_lines(render.status_rows(current.token)) + render.step_lines(current)
    _emit(current.to_json(), as_json, ([header] if header else []) + lines)
    if not current.usable:
        ctx.exit(ExitCode.REAUTHORIZE)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "all_profiles", is_flag=True, help="Every profile.")
@click.option("--summary", is_flag=True, help="Print the plain-text summary for the ticket (no secret).")
@click.pass_context
def status(ctx: click.Context, as_json: bool, all_profiles: bool, summary: bool) -> None:
    """Step 04: token id, expiry in seconds and scopes (local; no network call)."""
    from . import runbook
    from .views import render
    if summary:  # the text 04's "Copy summary for the ticket" shows (views.lastmile.summary_lines)
        from .notebook.actions import act_summary

        return click.echo("\n".join(act_summary(_site(ctx))))
    if not all_profiles:
        _print_status(ctx, _site(ctx), as_json)
        return
    store = runbook.ProfileStore(ctx.find_root().obj["home"])
    for left in store.sweep_leftovers():  # a killed import's folders: removed, or named here
        click.echo(f"{left} is left from a killed import (it holds a client secret and a refresh token) and could "
                   f"not be removed. Fix: remove it by hand (rm -r {left})", err=True)
    rows: list[tuple[dict[str, Any], str]] = []
    refused: list[RunbookError] = []
    for profile in store.listing():  # read-only: each file once, no lock
        try:
            state = runbook.state.read(runbook.Site(profile))
        except RunbookError as exc:  # one damaged profile: its own row and the exit code, the others still shown
            refused.append(exc)
            rows.append(({"profile": profile.name, "error": str(exc)}, f"{profile.name:20} error: see below"))
            continue
        rows.append((state.to_json(), render.profile_line(state)))
    _emit([data for data, _ in rows], as_json, [render.PROFILE_HEADER, *(line for _, line in rows)])
    if refused:
        raise refused[0]


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def refresh(ctx: click.Context, as_json: bool) -> None:
    """Step 04: refresh the access token now."""
    from . import runbook
    site = _site(ctx)
    runbook.refresh(site)
    _print_status(ctx, site, as_json, header="Refreshed.")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def verify(ctx: click.Context, as_json: bool) -> None:
    """Step 04: call the APIs with the token; each must come out as the granted scopes say.

    Exit 3 when nothing could be checked (never a success), 7 when a call came out otherwise."""
    from . import runbook
    from .views import render
    from .notebook.actions import act_check_verify

    report = runbook.verify(_site(ctx))
    _emit(report.to_json(), as_json, render.verify_lines(report))
    act_check_verify(report)


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def revoke(ctx: click.Context, yes: bool) -> None:
    """Step 04: revoke the grant at the provider; the local copy goes only after the provider confirms."""
    from . import runbook
    from .views import render
    site = _site(ctx)
    site.client()
    if site.profile.load_token() is None:  # revoking twice succeeds: the first one already removed it
        click.echo(f"Nothing to revoke: profile {site.profile.name!r} holds no token.")
        return
    if not yes:
        if not sys.stdin or not sys.stdin.isatty():
            raise InputError("no terminal to confirm the revocation (standard input is not a terminal)",
                             fix="pass --yes to revoke without asking")
        click.confirm(f"Revoke the token of profile {site.profile.name!r}? The server loses API access", abort=True)
    proof = runbook.revoke_and_prove(site)
    click.echo("Revoked, and proven:" if proof.ok else "Revoked, but the proof failed:")
    click.echo("\n".join(render.table_lines(render.revoke_rows(proof))))
    if not proof.ok:
        failed = RunbookError("the revocation could not be proven (see the table above)",
                              fix=f"run revoke again, or remove the app's access at {GOOGLE_PERMISSIONS}")
        issuer = site.foreign_issuer()
        raise failed.for_provider(issuer) if issuer else failed


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs"), show_default=True,
              help="Where the run folder is created.")
def demo(out: Path) -> None:
    """Run notebooks 01-04 headless on the embedded emulator (no Google account needed).

    Leaves the executed notebooks and one HTML report in a new run folder under OUT.
    """
    from .runs.demo import run_demo

    run_demo(out, echo=click.echo)


# The other commands live in commands/ (and the emulator's in emulator/command.py), imported when run (B2).
assert isinstance(client, LazyGroup)  # click types a subgroup made with cls=LazyGroup as a plain Group
cli.lazy.update(COMMANDS)
client.lazy.update(CLIENT_COMMANDS)


def run(argv: list[str] | None = None) -> int:
    """Run the CLI; print a RunbookError as one line on stderr and return its exit code."""
    try:
        code = cli.main(args=argv, prog_name="gapps-runbook", standalone_mode=False)
    except NotebookRunError as exc:
        click.echo(f"error: {exc}", err=True)
        if exc.output_path is not None:
            click.echo(f"The executed notebook is at {exc.output_path}", err=True)
        return int(exc.step_exit_code)
    except RunbookError as exc:
        click.echo(f"error: {exc}", err=True)
        return int(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        click.echo("Cancelled." if isinstance(exc, KeyboardInterrupt) else "Aborted.", err=True)
        return int(ExitCode.EXPIRED)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except Exception as exc:  # a bug: one line, no traceback, no secret
        click.echo(f"unexpected error ({type(exc).__name__}): {redact(str(exc))[:300]} "
                   "Please report it with the command you ran.", err=True)
        return int(ExitCode.FAILURE)
    return code if isinstance(code, int) else 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(run())
