"""pyproject.toml and environment.yml name the same dependencies with the same ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        deps += [d for d in extra if not d.startswith("gapps-runbook")]
    return dict(_split(d.split(";")[0]) for d in deps)


def _environment() -> dict[str, str]:
    deps: dict[str, str] = {}
    text = (ROOT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        match = re.match(r"^  - ([A-Za-z0-9_.\-]+)([<>=!].*)?$", line)
        if match and match.group(1) not in ("python", "pip"):
            deps[match.group(1).lower()] = (match.group(2) or "").strip()
    return deps


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)\s*(.*)$", requirement.strip())
    assert match, requirement
    return match.group(1).lower(), match.group(2).strip()


def test_environment_yml_matches_pyproject() -> None:
    assert _environment() == _pyproject()


def test_constraints_pin_every_direct_dependency() -> None:
    pinned = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    }
    missing = {name.replace("_", "-") for name in _pyproject()} - pinned
    assert not missing, f"constraints.txt lacks pins for {sorted(missing)}"


PACKAGE = ROOT / "gapps_runbook"
LAYERS = {"cli", "errors", "steps", "commands", "runbook", "notebook", "runs", "oauth", "profile", "safety", "emulator"}


def test_the_top_level_shows_the_layers() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 10, modules
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert packages == LAYERS - {p.removesuffix(".py") for p in modules}, packages
    assert all((PACKAGE / name / "__init__.py").read_text().startswith('"""') for name in packages)


def test_no_module_over_350_lines() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert sizes, "no module found"
    assert {path: n for path, n in sizes.items() if n > 350} == {}


def test_lower_layers_never_import_upper_ones() -> None:
    upper = {"oauth": ("runbook", "notebook", "runs", "cli", "profile"), "safety": ("oauth", "profile", "runbook",
             "notebook", "runs", "cli"), "profile": ("runbook", "notebook", "runs", "cli"),
             "emulator": ("runbook", "notebook", "runs", "cli", "profile", "safety")}
    offenders = []
    for layer, forbidden in upper.items():
        for path in (PACKAGE / layer).rglob("*.py"):
            for line in path.read_text().splitlines():
                words = line.strip().split()
                if len(words) >= 2 and words[0] in ("from", "import"):
                    target = words[1].lstrip(".").split(".")[0]
                    if words[1].startswith("..") and target in forbidden:
                        offenders.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert offenders == []
