"""How the notebook layer meets the kernel: is a person there, and how output is shown.

Nothing here calls the runbook; IPython is imported inside the functions, so importing this module
stays light (``import gapps_runbook.notebook`` pulls no Jupyter stack).
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable
from typing import Any

from ..errors import RunbookError
from ..oauth.clock import utc_text
from ..views.render import e, snapshot_note

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
    ".jp-OutputArea-child:has(.gapps-static):has(+ .jp-OutputArea-child "
    ".gapps-form:not(.jupyter-widgets-disconnected)){display:none}"
    ".jp-OutputArea-child:has(.gapps-static) + .jp-OutputArea-child:not(:has(.gapps-form:not("
    ".jupyter-widgets-disconnected))){display:none}"
    ".jp-OutputArea-child:has(+ .jp-OutputArea-child .gapps-form.jupyter-widgets-disconnected) "
    ".gapps-restarted{display:block !important}"
    "</style>"
)
"""How a form and its static summary share the page (JupyterLab, trusted output).

* While the form's widget is live, its summary is hidden.
* Once the widget cannot be shown (kernel gone: "Error displaying widget: model not found", or still
  "Loading widget..."), that output is hidden and the dated summary stays.
* After a kernel restart the widget manager marks every view of the old kernel
  ``jupyter-widgets-disconnected`` (ipywidgets 8: the models lose their comm, ``comm_live`` turns false):
  the dead form is hidden (its buttons would do nothing) and the summary shows, opened by the
  :data:`RESTARTED` line.

Untrusted or outside JupyterLab the style is dropped: the summary shows (the restart line stays ``hidden``),
and the widget output's text is empty."""

RESTARTED = "The kernel was restarted, so this form no longer works: run the notebook again (Run > Run All Cells)."
"""The one line a form shows, in place of its dead buttons, after a kernel restart."""


def static_bundle(summary: str, taken_at: float | None = None) -> dict[str, str]:
    """The static summary's display data, dated: HTML (with :data:`STATIC_CSS`) and a plain-text note.

    Args:
        summary: The form as static HTML.
        taken_at: When it was taken (epoch seconds); None: now.
    """
    taken = time.time() if taken_at is None else taken_at
    return {"text/html": (f"{STATIC_CSS}<div class='gapps-static'><div class='gapps-restarted' hidden>"
                          f"<b>{e(RESTARTED)}</b></div><div class='gapps-taken'>{snapshot_note(taken)}</div>"
                          f"{summary}</div>"),
            "text/plain": f"(Snapshot taken {utc_text(taken)}: run this notebook to see the live state.)"}


def cell_parent() -> dict[str, Any] | None:
    """The header of the request the kernel is handling now (the cell that displays a form), or None."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return None
    header = getattr(getattr(get_ipython(), "display_pub", None), "parent_header", None)
    return dict(header) if isinstance(header, dict) and header else None


def update_as(handle: Any, bundle: dict[str, str], parent: dict[str, Any] | None) -> None:
    """Replace a display (``handle``, made with a display id) as if the cell that showed it sent the update.

    JupyterLab applies an ``update_display_data`` message only to the outputs of the request it answers
    (its parent header): a click arrives as a ``comm_msg`` and a background thread inherits whichever
    request came last, so their updates would reach no output. ipykernel's ``set_thread_parent`` gives this
    thread the cell's header while the update is sent, then puts the previous one back.
    """
    from IPython import get_ipython

    pub = getattr(get_ipython(), "display_pub", None) if parent is not None else None
    setter, reset = getattr(pub, "set_thread_parent", None), getattr(pub, "reset_thread_parent", None)
    if setter is None or reset is None:  # outside ipykernel (a test's plain IPython): the update as it is
        handle.update(bundle, raw=True)
        return
    token = setter(parent)
    try:
        handle.update(bundle, raw=True)
    finally:
        reset(token)


SCROLL_WITHIN_MS = 60_000
"""A form's cell scrolls itself into view only when shown this recently: not when a saved notebook is reopened."""


def scroll_bundle(shown_at: float | None = None) -> dict[str, str]:
    """A hidden output whose script scrolls its cell to the top of the notebook once, when the form is shown.

    After Run > Run All Cells, JupyterLab scrolls to the last cell while its output is still empty, so the
    form would grow below the window. The script runs once, as the trusted output is attached (JupyterLab
    runs a trusted HTML output's scripts; untrusted, or outside JupyterLab, it is dropped and nothing moves),
    and does nothing in a notebook reopened later (:data:`SCROLL_WITHIN_MS`).

    Args:
        shown_at: When the form is shown (epoch seconds); None: now.
    """
    at = int((time.time() if shown_at is None else shown_at) * 1000)
    script = ("(function(){var s=document.currentScript;"
              f"if(!s||Date.now()-{at}>{SCROLL_WITHIN_MS})return;"
              "var c=s.closest('.jp-Cell');"
              "if(c)requestAnimationFrame(function(){c.scrollIntoView({block:'start'});});})();")
    return {"text/html": ("<style>.jp-OutputArea-child:has(.gapps-scroll){display:none}</style>"
                          f"<div class='gapps-scroll'></div><script>{script}</script>"),
            "text/plain": ""}


def show_form(form: Any) -> Any:
    """Display a form built in the main thread: its dated static summary, then its widget (after a hidden
    output that scrolls the cell into view once: :func:`scroll_bundle`).

    The summary is a plain ``text/html`` output with a display id, kept up to date by the form
    (``form.refresh_summary()``, sent as the displaying cell: :func:`update_as`), so the saved notebook
    shows it, dated, when the widget model is gone; the widget's own output carries an empty ``text/plain``
    instead of the widget's repr. See :data:`STATIC_CSS`.
    """
    from IPython.display import display

    form.parent = cell_parent()
    display(scroll_bundle(), raw=True)  # the cell in view after Run All (the form grows below it)
    form.static = display(static_bundle(form.summary_html()), raw=True, display_id=True)
    bundle = form.box._repr_mimebundle_()
    bundle["text/plain"] = ""
    display(bundle, raw=True)
    form.displayed = True
    form.watch()
    return form
