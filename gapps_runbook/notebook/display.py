"""How the notebook layer meets the kernel: is a person there, and how output is shown.

Nothing here calls the runbook; IPython is imported inside the functions, so importing this module
stays light (``import gapps_runbook.notebook`` pulls no Jupyter stack).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import Any

from ..errors import RunbookError

TRANSIENT = {"gapps_runbook": {"transient": True}}
"""Output metadata the scrubber keys on: the output is removed from saved notebooks."""
GONE = "(the one-time code/link was shown here while waiting; it is not kept)"


def is_interactive(interactive: bool | None = None) -> bool:
    """``interactive`` if given; else True only when a person is at this kernel's page.

    JupyterLab and Notebook send ``allow_stdin=True`` with each cell; papermill, nbclient and nbval
    send ``allow_stdin=False`` (nobody is there to answer), which ipykernel keeps as
    ``kernel._allow_stdin`` while the cell runs. Voilà executes with ``allow_stdin=False`` too, but a
    person is at its page: :func:`in_voila`. Outside a kernel the answer is False.
    """
    if interactive is not None:
        return bool(interactive)
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    kernel = getattr(get_ipython(), "kernel", None)
    if kernel is None:
        return False
    return bool(getattr(kernel, "_allow_stdin", False)) or in_voila()


VOILA_KERNEL_ID = "VOILA_KERNEL_ID"
"""Set by Voilà inside each page's kernel (executed before the notebook runs) to that kernel's id."""


def in_voila() -> bool:
    """True only in the kernel Voilà started for a page: ``VOILA_KERNEL_ID`` names this very kernel.

    A kernel started by papermill (or nbclient) from a process that inherited ``VOILA_KERNEL_ID`` (a
    Voilà page running ``gapps-runbook run``) carries the variable too, but another kernel's id: its
    own id is in its connection file's name, ``kernel-<id>.json``, which it is compared with.
    """
    wanted = os.environ.get(VOILA_KERNEL_ID, "")
    return bool(wanted) and own_kernel_id() == wanted


def own_kernel_id() -> str | None:
    """This kernel's id, from its connection file's name (``kernel-<id>.json``); None outside a kernel."""
    try:
        from ipykernel.connect import get_connection_file

        name = os.path.basename(get_connection_file())
    except (ImportError, RuntimeError, AttributeError, TypeError, ValueError):
        return None
    match = re.fullmatch(r"kernel-(.+)\.json", name)
    return match.group(1) if match else None


def one_line_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Let RunbookErrors from an entry point render as one line in the notebook (ename/evalue kept for papermill)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RunbookError as exc:
            raise exc from None

    return run


def show(text: str, html_text: str | None = None, *, transient: bool = False, display_id: bool = False) -> Any:
    """Display text (and HTML) in the notebook; ``transient`` outputs are dropped from saved notebooks."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.display import display

    if not InteractiveShell.initialized():  # plain Python (a script, a test): just the text
        print(text)
        return None
    data = {"text/plain": text}
    if html_text is not None:
        data["text/html"] = html_text
    return display(data, raw=True, metadata=dict(TRANSIENT) if transient else None, display_id=display_id or None)


STATIC_CSS = (
    "<style>"
    ".jp-OutputArea-child:has(.gapps-static):has(+ .jp-OutputArea-child .gapps-form){display:none}"
    ".jp-OutputArea-child:has(.gapps-static) + .jp-OutputArea-child:not(:has(.gapps-form)){display:none}"
    "</style>"
)
"""How a form and its static summary share the page (JupyterLab, trusted output): while the form's widget is
live, its summary is hidden; once the widget cannot be shown (kernel gone: "Error displaying widget: model
not found", or still "Loading widget..."), that output is hidden and the summary stays. Untrusted or outside
JupyterLab, the style is dropped: the summary shows, and the widget output's text is empty."""


def static_bundle(summary: str) -> dict[str, str]:
    """The static summary's display data: HTML (with :data:`STATIC_CSS`) and a plain-text note."""
    return {"text/html": f"{STATIC_CSS}<div class='gapps-static'>{summary}</div>",
            "text/plain": "(the form's last state; run the cell for the live form)"}


def show_form(form: Any) -> Any:
    """Display a form built in the main thread: its static summary, then its widget (threads then only update it).

    The summary is a plain ``text/html`` output with a display id (refreshed by ``form.refresh_summary()``),
    so the saved notebook shows it when the widget model is gone; the widget's own output carries an empty
    ``text/plain`` instead of the widget's repr. See :data:`STATIC_CSS`.
    """
    from IPython.display import display

    form.static = display(static_bundle(form.summary_html()), raw=True, display_id=True)
    bundle = form.box._repr_mimebundle_()
    bundle["text/plain"] = ""
    display(bundle, raw=True)
    form.displayed = True
    return form
