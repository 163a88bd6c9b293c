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
* no widget keeps a secret: the Password box and the FileUpload are emptied right after use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from . import render

Handler = Callable[..., None]


def ui_only(fn: Handler) -> Handler:
    """Mark a callback that only shows, hides or stops something (no package call needed).

    Args:
        fn: The callback.

    Returns:
        ``fn``, marked.
    """
    fn._ui_only = True  # type: ignore[attr-defined]
    return fn


def button(text: str, style: str = "", icon: str = "") -> w.Button:
    """A button as wide as its text.

    Args:
        text: The label.
        style: ``primary``, ``warning``, ``danger`` or "".
        icon: A Font Awesome icon name, or "".

    Returns:
        The button.
    """
    return w.Button(description=text, button_style=style, icon=icon, layout=w.Layout(width="auto"))


class Form:
    """A VBox with a message line and a capture Output; subclasses add widgets and callbacks.

    Attributes:
        box: The widget to display.
        message: One-line errors and notes (an HTML widget, so threads can set it).
        out: Catches anything a callback prints.
        displayed: Set once the box was displayed, so returning the form does not show it twice.
    """

    def __init__(self) -> None:
        self.message = w.HTML()
        self.out = w.Output()
        self.box = w.VBox()
        self.displayed = False

    def _ipython_display_(self) -> None:
        if not self.displayed:
            from IPython.display import display

            display(self.box)
            self.displayed = True

    def layout(self, *children: w.Widget) -> None:
        """Set the box's children, followed by the message line and the capture output."""
        self.box.children = (*children, self.message, self.out)

    def guard(self, fn: Handler) -> Handler:
        """Wrap a callback: output captured (cleared each time), errors shown as one line.

        Args:
            fn: The callback.

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
                self.fail(exc)

        return handler

    def on_click(self, widget: w.Button, fn: Handler) -> None:
        """Register a guarded click handler."""
        widget.on_click(self.guard(fn))

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
