"""Render the committed runbook notebooks: executed against the emulator, scrubbed, sanitized, stable.

``python -m tools.render_notebooks`` (or ``make notebooks``) rewrites ``notebooks/*.ipynb`` so
readers browsing the repository see what each step shows, and ``pytest --nbval`` (strict) has
something to compare:

1. :func:`emulator_site` serves an auto-approving emulator with one FIXED, obviously fake "Desktop
   app" client (:data:`CLIENT_ID`, :data:`CLIENT_SECRET`) and account (:data:`ACCOUNT`), and prepares
   profile ``default`` in a temporary runbook home the way a person would with steps 01-03: the
   preflight for Calendar + OpenID, the client, a token from the loopback (desktop) flow.
   ``notebooks/conftest.py`` calls the same function before nbval starts its kernels.
2. Each notebook runs headless with **its own defaults** (no papermill parameter, so nbval, which
   cannot pass any, computes the same outputs) through
   :func:`gapps_runbook.runs.execute.run_notebook`, which scrubs secrets, the injected cell,
   papermill's parameter values and widget state.
3. :func:`finish` makes the result deterministic: every output string goes through the regex
   sanitizers of ``notebooks/sanitize.cfg`` (the ones nbval applies before comparing), execution
   counts are renumbered 1, 2, 3, ..., and notebook and cell metadata go back to the committed
   notebook's (no papermill durations or timestamps, no widget state).  Cell sources are copied
   from the committed notebook byte for byte; only outputs and execution counts change.

The client secret is built at run time (``"GOCSPX-" + ...``) so no source file holds a secret-shaped
literal; it is never displayed, and the scrubber would mask it if it were.  Tokens are the emulator's
random values and are never displayed either: outputs show token *ids* (fingerprints), which the
sanitizers turn into ``TOKEN-ID``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gapps_runbook.steps import STEPS

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
"""The committed notebooks (a source checkout; this is a maintainer's tool)."""
NAMES = tuple(step.notebook for step in STEPS)
"""Every step's notebook, in step order (:data:`gapps_runbook.steps.STEPS`)."""
CLIENT_ID = "123456789012-emulatoremulatoremulatoremulator.apps.googleusercontent.com"
"""The fixed "Desktop app" client the rendered notebooks show: Google-shaped, obviously the emulator's."""
CLIENT_SECRET = "GOCSPX-" + "EMULATOR-NOT-A-SECRET-000000"
"""Its secret: Google's shape (so step 02's checks accept it), fake, never displayed."""
ACCOUNT = "engineer@example.com"
PRODUCT_NAME = "gapps-runbook (emulator)"
PROFILE = "default"
SERVICES = ("calendar", "openid")


@contextlib.contextmanager
def emulator_site(timeout: float = 60) -> Iterator[Path]:
    """Serve the fixed emulator and prepare profile ``default`` in a temporary home; yield the home.

    The profile is what steps 01-03 leave behind: preflight for Calendar + OpenID (publishing status
    "production"), the fixed Desktop app client, and a token from the desktop (loopback + PKCE) flow,
    approved by the emulator as :data:`ACCOUNT`.  ``GAPPS_RUNBOOK_HOME`` is set to the home (and
    ``GAPPS_RUNBOOK_ISSUER`` removed) for the block, so kernels started inside it use the profile
    with the notebooks' default parameters; both are restored afterwards.
    """
    from gapps_runbook import runbook
    from gapps_runbook.oauth import scopes
    from gapps_runbook.runs.demo import browser_for_emulator
    from gapps_runbook.emulator import Emulator, serve

    emulator = Emulator(auto_approve=True, account=ACCOUNT)
    emulator.register_client(CLIENT_ID, CLIENT_SECRET, "desktop", PRODUCT_NAME)
    home = Path(tempfile.mkdtemp(prefix="gapps-runbook-home-"))
    saved = {name: os.environ.get(name) for name in ("GAPPS_RUNBOOK_HOME", "GAPPS_RUNBOOK_ISSUER")}
    try:
        with serve(emulator) as running:
            site = runbook.Site.open(PROFILE, home=home, issuer=running.base_url)
            requested = scopes.scopes_for(SERVICES)
            runbook.check_console(site, requested, publishing_status="production")
            runbook.save_client(site, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, client_type="desktop",
                                product_name=PRODUCT_NAME)
            runbook.authorize(site, requested, flow="desktop", open_url=browser_for_emulator, timeout=timeout)
            os.environ["GAPPS_RUNBOOK_HOME"] = str(home)
            os.environ.pop("GAPPS_RUNBOOK_ISSUER", None)
            yield home
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(home, ignore_errors=True)


def load_sanitizers(path: Path | None = None) -> list[tuple[str, str]]:
    """The (regex, replacement) pairs of a sanitize file, read exactly as nbval 0.11 reads them."""
    text = (path or NOTEBOOKS / "sanitize.cfg").read_text(encoding="utf-8")
    return re.findall(r"^regex: (.*)$\n^replace: (.*)$", text, flags=re.MULTILINE)


def sanitize(value: Any, sanitizers: Sequence[tuple[str, str]]) -> Any:
    """Apply the sanitizers, in file order, to every string inside ``value``."""
    if isinstance(value, str):
        for regex, replace in sanitizers:
            value = re.sub(regex, replace, value)
        return value
    if isinstance(value, dict):
        return {key: sanitize(item, sanitizers) for key, item in value.items()}
    if isinstance(value, list):
        return [sanitize(item, sanitizers) for item in value]
    return value


def finish(executed: Any, source: Any, sanitizers: Sequence[tuple[str, str]]) -> Any:
    """The committed form of a notebook: ``source``'s cells and metadata with ``executed``'s outputs, sanitized.

    Args:
        executed: The scrubbed executed notebook (no injected cell, so its cells pair up with ``source``'s).
        source: The committed notebook (its sources, ids and metadata are kept as they are).
        sanitizers: From :func:`load_sanitizers`.

    Raises:
        ValueError: The two notebooks' cells do not pair up (the executed copy is not of this source).
    """
    import nbformat

    result = copy.deepcopy(source)
    if [c.source for c in executed.cells] != [c.source for c in source.cells]:
        raise ValueError("the executed notebook's cells differ from the committed notebook's")
    count = 0
    for cell, ran in zip(result.cells, executed.cells, strict=True):
        if cell.cell_type != "code":
            continue
        count += 1
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(sanitize(_plain_output(o, count), sanitizers)) for o in ran.outputs]
    return result


def _plain_output(output: Any, count: int) -> dict[str, Any]:
    """A copy of an output with its execution count (``execute_result`` only) renumbered."""
    plain = {key: copy.deepcopy(value) for key, value in output.items()}
    if "execution_count" in plain:
        plain["execution_count"] = count
    return plain


def render(out_dir: Path, *, notebooks: Path = NOTEBOOKS, timeout: float = 120) -> list[Path]:
    """Execute every runbook notebook against the fixed emulator and write the committed form to ``out_dir``.

    Args:
        out_dir: Where the rendered notebooks go (``notebooks`` itself to update the committed ones).
        notebooks: Where the source notebooks and ``sanitize.cfg`` are.
        timeout: Seconds one cell may run.

    Returns:
        The written notebooks, in step order.

    Raises:
        NotebookRunError: A notebook failed against the emulator (nothing is written).
        RuntimeError: The leak scanner found the client secret or a secret shape (nothing is written).
    """
    import nbformat

    from gapps_runbook.safety.leakscan import format_findings, scan_text
    from gapps_runbook.runs.execute import run_notebook
    from gapps_runbook.profile.private_files import write_atomic

    sanitizers = load_sanitizers(notebooks / "sanitize.cfg")
    sources = {name: nbformat.read(notebooks / f"{name}.ipynb", as_version=4) for name in NAMES}
    texts: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="gapps-runbook-render-") as scratch, emulator_site():
        for name in NAMES:
            run_notebook(notebooks / f"{name}.ipynb", Path(scratch), {}, timeout=timeout,
                         secrets=[CLIENT_SECRET])
            executed = nbformat.read(Path(scratch) / f"{name}.ipynb", as_version=4)
            texts[name] = nbformat.writes(finish(executed, sources[name], sanitizers)) + "\n"  # as Jupyter saves
    findings = [f for name, text in texts.items() for f in scan_text(f"{name}.ipynb", text, [CLIENT_SECRET])]
    if findings:  # cannot happen unless the scrubber regressed: then write nothing
        raise RuntimeError("refusing to write rendered notebooks:\n" + format_findings(findings))
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in texts.items():
        path = out_dir / f"{name}.ipynb"
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        write_atomic(path, text.encode("utf-8"), mode=mode)  # public files: keep their mode (0644 new)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tools.render_notebooks [--out DIR]``: re-render the committed notebooks."""
    parser = argparse.ArgumentParser(prog="python -m tools.render_notebooks",
                                     description="Re-render the committed runbook notebooks against the emulator.")
    parser.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="the source notebooks (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: over the sources)")
    args = parser.parse_args(argv)
    for path in render(args.out or args.notebooks, notebooks=args.notebooks):
        print(f"rendered {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
