"""gapps-runbook: connect an installed application to Google Workspace APIs with OAuth 2.0, step by step.

The notebooks in ``notebooks/`` and the ``gapps-runbook`` CLI are thin; the work happens in the
modules of this package (see docs/design.md). Importing it installs log redaction so no secret
reaches a log line, and imports neither ipywidgets nor papermill.
"""

from __future__ import annotations

from .safety.redact import install_log_redaction

__version__ = "0.1.0"

install_log_redaction()
