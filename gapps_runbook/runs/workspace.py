"""A working folder per site for ``gapps-runbook lab``: copies of the step notebooks, never the templates.

``<home>/workspaces/<profile>/`` (0700) holds one copy of each step notebook (``00_start_here`` ...
``05_backup_restore``, from :func:`gapps_runbook.runs.step_notebooks.notebooks_dir`) whose ``parameters`` cell
already carries the profile, the runbook home and the issuer, with no outputs and no execution counts
(the committed notebooks are executed renders: a person must not see results they never produced).

Reopening keeps the engineer's copies as they are: an existing workspace notebook is never
overwritten. When the template changed since the copy was made (the manifest ``.workspace.json``
records the hash of each copy as first written), the new copy is written beside it as
``<name>.new.ipynb`` and reported.

The workspace also carries its own JupyterLab configuration (:data:`LAB_CONFIG`, a folder ``lab_server``
puts on Jupyter's config path for this workspace only; the user's own Jupyter settings are never written):
JupyterLab's announcements plugin is disabled, so no "Would you like to get notified about official Jupyter
news?" toast covers the form and nothing is fetched from the internet (JupyterLab's page config
``disabledExtensions``, https://jupyterlab.readthedocs.io/en/stable/user/directories.html#labconfig-directories,
with ``fetchNews`` and ``checkForUpdates`` off as default setting overrides besides). Pure file work:
nothing here starts JupyterLab or a kernel.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..profile.files import check_profile_name
from ..profile.private_files import ensure_private_dir, write_private
from ..steps import STEPS

MANIFEST = ".workspace.json"
"""The workspace's record of each notebook copy's hash as first written (which template it came from)."""
PARAMETERS = ("profile", "home", "issuer")
"""The parameters every workspace copy carries (the notebooks' shared parameters, in this order)."""
NEW_SUFFIX = ".new.ipynb"
"""A newer template's copy is offered as ``<name>.new.ipynb`` beside the engineer's notebook."""
LAB_CONFIG = ".jupyter"
"""The workspace's own Jupyter configuration folder (hidden from JupyterLab's file browser)."""
ANNOUNCEMENTS = "@jupyterlab/apputils-extension:announcements"
"""JupyterLab's plugin that asks about, and fetches, Jupyter news and update checks."""
LAB_FILES: dict[str, dict[str, Any]] = {
    "page_config.json": {"disabledExtensions": {ANNOUNCEMENTS: True}},
    "default_setting_overrides.json": {
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}},
}
"""``labconfig/`` files of :data:`LAB_CONFIG`: the news plugin off, and its settings off should it load anyway."""
_DROPPED_METADATA = ("widgets", "papermill")
"""Notebook metadata a copy must not inherit (saved widget state; papermill's run records)."""


@dataclass
class Workspace:
    """What :func:`prepare` made of a workspace folder.

    Attributes:
        folder: The workspace folder (``<home>/workspaces/<profile>``).
        created: Notebooks written now (a first open, or a notebook that was deleted).
        kept: Notebooks already there, left exactly as they were.
        newer: Notebooks whose template changed since the copy was made: ``<name>.new.ipynb`` was written.
    """

    folder: Path
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    newer: list[str] = field(default_factory=list)

    @property
    def start(self) -> Path:
        """The first notebook to open (step 00)."""
        return self.folder / f"{STEPS[0].notebook}.ipynb"

    def report_lines(self) -> list[str]:
        """What a person reads about the folder: created, kept, and newer templates offered."""
        lines = [f"Workspace {self.folder}"]
        if self.created:
            lines.append(f"  new copies: {', '.join(self.created)}")
        if self.kept:
            lines.append(f"  kept as you left them: {', '.join(self.kept)}")
        for name in self.newer:
            lines.append(f"  a newer template of {name} is in {Path(name).stem}{NEW_SUFFIX}: compare, then "
                         f"replace yours with it if you want it")
        return lines


def workspace_dir(home: Path, profile: str) -> Path:
    """``<home>/workspaces/<profile>``: the profile's working folder (the name checked like a profile's)."""
    return Path(home) / "workspaces" / check_profile_name(profile)


def lab_config_dir(folder: Path) -> Path:
    """The Jupyter configuration folder of the workspace ``folder`` (``lab_server`` adds it to Jupyter's path)."""
    return Path(folder) / LAB_CONFIG


def write_lab_config(folder: Path) -> None:
    """Write the workspace's JupyterLab configuration (:data:`LAB_FILES`), 0700/0600, every time: it is the
    runbook's, not the engineer's."""
    config = lab_config_dir(folder)
    ensure_private_dir(config)
    ensure_private_dir(config / "labconfig")
    for name, content in LAB_FILES.items():
        write_private(config / "labconfig" / name, (json.dumps(content, indent=1) + "\n").encode("utf-8"))


def parameter_line(name: str, value: object, line: str) -> str:
    """``line`` (``name = old  # comment``) with ``value`` as a Python literal, the comment kept."""
    match = re.match(rf"^{re.escape(name)}\s*=\s*(?:[^#\"']|\"[^\"]*\"|'[^']*')*?(\s*#.*)?$", line)
    comment = match.group(1) if match and match.group(1) else ""
    return f"{name} = {value!r}{comment}"


def workspace_copy(template: Mapping[str, Any], values: Mapping[str, object]) -> dict[str, Any]:
    """A template notebook as a workspace copy: ``values`` in its parameters cell, no outputs.

    Args:
        template: The notebook (nbformat 4 JSON).
        values: Parameter name -> value; each must be assigned once in the ``parameters`` cell.

    Returns:
        A new notebook: outputs and execution counts stripped, widget state and papermill metadata dropped.

    Raises:
        InputError: The template has no ``parameters`` cell, or a parameter is not assigned there once.
    """
    nb = json.loads(json.dumps(template))  # a deep copy the caller's template never shares
    for key in _DROPPED_METADATA:
        nb.get("metadata", {}).pop(key, None)
    cells = [c for c in nb.get("cells", []) if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(cells) != 1:
        raise InputError("a runbook notebook has no single cell tagged 'parameters'",
                         fix="restore notebooks/ from git (the templates are never edited by hand)")
    lines = "".join(cells[0]["source"]).splitlines()
    for name, value in values.items():
        hits = [i for i, line in enumerate(lines) if re.match(rf"^{re.escape(name)}\s*=", line)]
        if len(hits) != 1:
            raise InputError(f"parameter {name!r} is not assigned once in a notebook's parameters cell",
                             fix="restore notebooks/ from git (the templates are never edited by hand)")
        lines[hits[0]] = parameter_line(name, value, lines[hits[0]])
    cells[0]["source"] = "\n".join(lines)
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    return nb


def notebook_bytes(nb: Mapping[str, Any]) -> bytes:
    """A notebook as JupyterLab writes it (1-space indent, UTF-8, a final newline)."""
    return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def prepare(profile: str, *, home: Path, issuer: str, templates: Path) -> Workspace:
    """Create or reopen ``profile``'s workspace under ``home`` from the notebooks in ``templates``.

    Args:
        profile: The profile (one per site); it names the folder and goes into every parameters cell.
        home: The runbook home (absolute in the copies, so a kernel needs no environment variable).
        issuer: The issuer URL for the copies ("" = the profile's provider, else Google).
        templates: The folder holding ``00_start_here.ipynb`` ... (``runs.step_notebooks.notebooks_dir()``).

    Returns:
        What was created, kept, and which newer templates were offered as ``<name>.new.ipynb``.

    Raises:
        InputError: A template is missing or malformed (the fix names notebooks/).
        StoreError: The folder or a file is not the user's (a symlink, another owner).
    """
    home = Path(home).expanduser().resolve()
    folder = workspace_dir(home, profile)
    home.parent.mkdir(parents=True, exist_ok=True)
    ensure_private_dir(home, follow=True)  # the runbook home, 0700 like the profile store makes it
    ensure_private_dir(folder.parent)
    ensure_private_dir(folder)
    manifest_path = folder / MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        manifest = {}
    values = {"profile": profile, "home": str(home), "issuer": issuer}
    result = Workspace(folder)
    for step in STEPS:
        name = f"{step.notebook}.ipynb"
        source = Path(templates) / name
        try:
            template = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"the template {source} cannot be read ({type(exc).__name__})",
                             fix="set GAPPS_RUNBOOK_NOTEBOOKS to the runbook's notebooks/ folder") from None
        data = notebook_bytes(workspace_copy(template, values))
        digest = hashlib.sha256(data).hexdigest()
        target = folder / name
        if not target.exists():
            write_private(target, data)
            manifest[name] = digest
            result.created.append(name)
            continue
        result.kept.append(name)
        if manifest.get(name, digest) != digest:  # the template (or profile/home/issuer) changed since the copy
            write_private(folder / f"{step.notebook}{NEW_SUFFIX}", data)
            result.newer.append(name)
        manifest.setdefault(name, digest)
    write_private(manifest_path, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8"))
    write_lab_config(folder)
    return result
