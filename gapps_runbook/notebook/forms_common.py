"""What every step's ipywidgets form shares: :class:`Form`, :func:`ui_only` and :func:`button`.

Imported only when a notebook runs interactively (``import gapps_runbook`` never imports ipywidgets).
One form module per step notebook builds on this one: :mod:`.step00` (start here), :mod:`.step01`
(console checklist), :mod:`.step02` (client credentials), :mod:`.step03` (authorize) and :mod:`.step04`
(token status). Rules (STYLE.md principles 9-10):

* every button and observer callback is wrapped by :meth:`Form.guard`: ``Output.capture(clear_output=True)``
  plus one-line errors (a RunbookError shows its own text, never a traceback), and makes one call into
  the package (:mod:`gapps_runbook.runbook`, an ``act_*`` of :mod:`.actions`, or the site's profile); the few
  that only show or hide widgets are marked :func:`ui_only`;
* background threads (device polling, countdowns) never use ``with out:``; they only set widget
  traits (``HTML.value``, ``Label.value``), which ipykernel sends from any thread;
* no widget keeps a secret: the Password box and the FileUpload are emptied right after use;
* beside its widget, each form displays a static summary (:func:`summary_html`, plain HTML, never a
  Password, an upload or a widget in :attr:`Form.private`), dated, and sent again shortly after anything
  shown changes (a callback, a background thread; :meth:`Form.watch`): a notebook reopened once its kernel
  is gone shows what the form showed when it was last saved, with when that was, instead of "Error
  displaying widget"; after a kernel restart the dead form gives way to it, under one line saying to run
  the notebook again (:func:`gapps_runbook.notebook.display.show_form`).
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w
from ipywidgets.widgets.widget_selection import _MultipleSelection, _Selection

from ..views import render
from .display import static_bundle, update_as

Handler = Callable[..., None]


def ui_only(fn: Handler) -> Handler:
    """Mark a callback that only shows, hides or stops something (no package call needed).

    Args:
        fn: The callback.

    Returns:
        ``fn``, marked.
    """
    vars(fn)["_ui_only"] = True  # a function attribute, read with getattr (vars() types it)
    return fn


def summary_html(widget: w.Widget, private: tuple[w.Widget, ...] = ()) -> str:
    """What a form shows, as plain HTML: texts, labels, choices and ticks; never a secret or a one-time code.

    Args:
        widget: The form's box (walked depth first).
        private: Widgets left out (a device code, a one-time link).

    Returns:
        HTML that needs no kernel and no widget manager (buttons, Password boxes, uploads and hidden parts left out).
    """
    if widget in private or isinstance(widget, (w.Password, w.FileUpload, w.Button, w.Output)):
        return ""
    if getattr(widget.layout, "display", None) == "none":
        return ""
    if isinstance(widget, w.Box):
        parts = [summary_html(child, private) for child in widget.children]
        joined = " ".join(p for p in parts if p)
        return f"<div>{joined}</div>" if joined else ""
    value = getattr(widget, "value", None)
    if isinstance(widget, w.HTML):
        return f"<div>{value}</div>" if value else ""  # the form's own rendered HTML (render.* escapes input)
    if isinstance(widget, w.Label):
        return f"<div>{render.e(value)}</div>" if value else ""
    if isinstance(widget, w.Checkbox):
        return f"<div>{'&#9745;' if value else '&#9744;'} {render.e(widget.description)}</div>"
    if isinstance(widget, _Selection):  # Dropdown, ToggleButtons: the chosen label
        return f"<div>{render.e(widget.description)}: <b>{render.e(widget.label or '')}</b></div>"
    if isinstance(widget, _MultipleSelection):
        return f"<div>{render.e(widget.description)}: <b>{render.e(', '.join(widget.label))}</b></div>"
    if isinstance(value, str) and value:  # Text, Textarea
        return f"<div>{render.e(widget.description)}: <code>{render.e(value)}</code></div>"
    return ""


SETTLE = 0.3
"""Seconds a form waits after a change before sending its summary again, so a burst of changes is sent once."""

_NOTEBOOK_LINK = re.compile(r"<a href='([0-9]{2}_[a-z_]+\.ipynb)'>")


WRAP_CSS = ("<style>.gapps-wrap, .gapps-wrap label {white-space: normal; height: auto}"
            ".gapps-wrap label {overflow: visible; text-overflow: clip}</style>")
"""A widget with class ``gapps-wrap`` (a long checklist item) wraps its text instead of running off the
page (JupyterLab and the app alike; ipywidgets' labels are one clipped line by default)."""

LAB_ROOT_ENV = "GAPPS_RUNBOOK_LAB_ROOT"
"""The JupyterLab server's root folder, set by ``gapps-runbook lab`` for its kernels (step links need it)."""


def _lab_folder() -> str | None:
    """The kernel's notebook folder relative to JupyterLab's root ("" at the root); None when unknown."""
    session = os.environ.get("JPY_SESSION_NAME", "")  # jupyter_server: the notebook's path (absolute in 2.x)
    if not session:
        return None
    if not os.path.isabs(session):
        return posixpath.dirname(session)
    root = os.environ.get(LAB_ROOT_ENV)
    if not root:
        return None
    relative = os.path.relpath(os.path.dirname(session), root)
    return None if relative.startswith("..") else ("" if relative == "." else relative.replace(os.sep, "/"))


def lab_links(html_text: str) -> str:
    """Step links (``<a href='03_authorize.ipynb'>``) that open inside JupyterLab, without a page reload.

    Widget HTML is set as it is (no rendermime link handling), so a plain relative link would navigate the
    whole page away. JupyterLab's CommandLinker runs ``docmanager:open`` for any element carrying
    ``data-commandlinker-command`` (and keeps the click from navigating); the ``href`` stays for other
    front ends. The path is relative to the server's root (:data:`LAB_ROOT_ENV`); unknown, links stay plain.
    """
    folder = _lab_folder()
    if folder is None:
        return html_text

    def linked(match: re.Match[str]) -> str:
        args = json.dumps({"path": posixpath.join(folder, match.group(1))})
        return (f"<a href='{match.group(1)}' data-commandlinker-command='docmanager:open' "
                f"data-commandlinker-args='{render.e(args)}'>")

    return _NOTEBOOK_LINK.sub(linked, html_text)


def button(text: str, style: str = "", icon: str = "") -> w.Button:
    """A button as wide as its text, also alone in a column (a VBox would stretch it to the full width), and
    in a row beside a long message (an HBox would shrink it to "S...").

    Args:
        text: The label.
        style: ``primary``, ``warning``, ``danger`` or "".
        icon: A Font Awesome icon name, or "".

    Returns:
        The button.
    """
    return w.Button(description=text, button_style=style, icon=icon,  # never stretched across a column, and
                    layout=w.Layout(width="auto", min_width="max-content", flex="0 0 auto",  # never squeezed
                                    align_self="flex-start"))


class Form:
    """A VBox with a message line and a capture Output; subclasses add widgets and callbacks.

    Attributes:
        box: The widget to display.
        message: One-line errors and notes (an HTML widget, so threads can set it).
        out: Catches anything a callback prints.
        displayed: Set once the box was displayed, so returning the form does not show it twice.
        private: Widgets the static summary leaves out (one-time codes and links).
        ticking: Widgets a clock changes (a countdown): shown in the summary, but their changes alone do not
            send it again (a saved notebook would change every second).
        static: The display handle of the static summary (set by ``show_form``), or None.
        parent: The header of the cell that displayed the form (set by ``show_form``): summary updates are
            sent as that cell's output.
    """

    def __init__(self) -> None:
        self.message = w.HTML()
        self.out = w.Output()
        self.box = w.VBox()
        self.box.add_class("gapps-form")  # the live form hides its static summary (display.STATIC_CSS)
        self.displayed = False
        self.private: tuple[w.Widget, ...] = ()
        self.ticking: tuple[w.Widget, ...] = ()
        self.static: Any = None
        self.parent: dict[str, Any] | None = None
        self._watched: set[str] = set()
        self._sent = ""
        self._due: threading.Timer | None = None
        self._due_lock = threading.Lock()

    def summary_html(self) -> str:
        """The form as static HTML (:func:`summary_html`), for a notebook reopened without its kernel."""
        return summary_html(self.box, self.private)

    def refresh_summary(self) -> None:
        """Re-send the static summary (same display id), dated now, when what it shows changed. Safe from threads."""
        if self.static is None:
            return
        summary = self.summary_html()
        with self._due_lock:
            if summary == self._sent:
                return  # nothing new: the summary keeps the time it was taken
            self._sent = summary
        update_as(self.static, static_bundle(summary), self.parent)

    def watch(self) -> None:
        """Send the summary again :data:`SETTLE` seconds after any shown widget changes, whoever changed it.

        Covers background threads (04 showing a token that step 03 stored meanwhile) as well as callbacks;
        widgets added later (new children) are watched as they come. :attr:`private` and :attr:`ticking`
        widgets never trigger it.
        """
        self._sent = self.summary_html()  # what show_form displayed
        self._watch(self.box)

    def _watch(self, widget: w.Widget) -> None:
        if widget.model_id in self._watched or widget in self.private or widget in self.ticking:
            return
        self._watched.add(widget.model_id)
        names = [name for name in ("value", "children", "description", "options", "disabled")
                 if widget.has_trait(name)]
        widget.observe(self._changed, names=names)
        widget.layout.observe(self._changed, names="display")
        for child in getattr(widget, "children", ()):
            self._watch(child)

    def _changed(self, change: dict[str, Any]) -> None:
        if change["name"] == "children":
            for child in change["new"]:
                self._watch(child)
        with self._due_lock:
            if self._due is not None:
                return  # a refresh is already due: it sends this change too
            self._due = threading.Timer(SETTLE, self._send_due)
            self._due.daemon = True
            self._due.start()

    def _send_due(self) -> None:
        with self._due_lock:
            self._due = None
        if self.alive():
            self.refresh_summary()

    def _ipython_display_(self) -> None:
        if not self.displayed:
            from IPython.display import display

            display(self.box)
            self.displayed = True

    def layout(self, *children: w.Widget) -> None:
        """Set the box's children, followed by the message line (unless placed among them, beside the controls
        whose messages it shows) and the capture output."""
        message = () if self.message in children else (self.message,)
        self.box.children = (*children, *message, self.out)

    def guard(self, fn: Handler, beside: w.HTML | None = None) -> Handler:
        """Wrap a callback: output captured (cleared each time), errors shown as one line.

        Args:
            fn: The callback.
            beside: Where its errors are shown, beside the control that caused them; None: the message line.

        Returns:
            The wrapped callback (``__wrapped__`` is ``fn``).
        """

        @self.out.capture(clear_output=True)
        @functools.wraps(fn)
        def handler(*args: Any) -> None:
            self.message.value = ""
            try:
                fn(*args)
            except Exception as exc:  # shown, never raised into the comm handler
                if beside is None:
                    self.fail(exc)
                else:
                    beside.value = render.error_html(render.one_line(exc))
            self.refresh_summary()
            self.acted()

        return handler

    after_action: tuple[Callable[[], None], ...] = ()
    """Called after every action of this form (the app re-renders its header from the stored state)."""

    def acted(self) -> None:
        """An action ended (a callback, or a background attempt): call :attr:`after_action`. Safe from threads."""
        for follow in self.after_action:
            follow()

    def on_click(self, widget: w.Button, fn: Handler, beside: w.HTML | None = None) -> None:
        """Register a guarded click handler (its errors shown ``beside`` the button when given)."""
        widget.on_click(self.guard(fn, beside))

    def observe(self, widget: w.Widget, fn: Handler, name: str = "value") -> None:
        """Register a guarded observer of one trait."""
        widget.observe(self.guard(fn), names=name)

    def fail(self, exc: BaseException) -> None:
        """Show an error as one line (safe from any thread)."""
        self.message.value = render.error_html(render.one_line(exc))

    def note(self, text: str) -> None:
        """Show a note in the message line."""
        self.message.value = f"<i>{render.e(text)}</i>"

    def alive(self) -> bool:
        """False once the box was closed (threads stop then)."""
        return self.box.comm is not None

    def replace_previous(self) -> None:
        """Stop the background work of the form this one replaces (the same cell run again)."""
        previous = _LATEST.get(type(self))
        if previous is not None and previous is not self:
            previous.stop()
        _LATEST[type(self)] = self

    def stop(self) -> None:
        """Stop background threads; forms that start some override it."""


_LATEST: dict[type, Form] = {}
