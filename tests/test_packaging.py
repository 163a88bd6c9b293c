"""Packaging: pyproject.toml and environment.yml agree, constraints.txt pins them, the import contracts hold."""

from __future__ import annotations

import re
import subprocess
import sys
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


def lint_imports(*config: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` (import-linter, a ``test`` dependency) over the package, from the project root."""
    command = [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo", *map(str, config)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_import_contracts_hold() -> None:
    """The layer order, the emulator's and the protocol's independence, and no import cycle (pyproject.toml)."""
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_upward_import_breaks_the_layer_contract(tmp_path: Path) -> None:
    """The check can fail: with safety put above errors, errors.py's import of safety.redact is reported."""
    config = tmp_path / "upside-down.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "gapps_runbook"\n\n'
        '[[tool.importlinter.contracts]]\nname = "safety above errors"\ntype = "layers"\n'
        'layers = ["gapps_runbook.safety", "gapps_runbook.errors"]\n'
    )
    result = lint_imports(config)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gapps_runbook.errors -> gapps_runbook.safety.redact" in result.stdout


def test_the_top_level_stays_small() -> None:
    """A handful of modules beside the layer packages, and each package says what it is in its docstring.

    Which layer each top-level package or module is, is the layer contract's job (``exhaustive``).
    """
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 10, modules
    packages = [p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    assert packages, "no package found"
    assert [p.name for p in packages if not (p / "__init__.py").read_text().startswith('"""')] == []


def _shipped_modules() -> list[str]:
    """The modules a wheel built from the repository holds: setuptools' discovery as pyproject.toml configures it."""
    from setuptools.discovery import PEP420PackageFinder

    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = PEP420PackageFinder.find(str(ROOT), include=find["include"], exclude=find.get("exclude", ()))
    return sorted(f"{package}.{path.stem}" for package in packages
                  for path in (ROOT / package.replace(".", "/")).glob("*.py"))


def test_the_wheel_holds_no_benchmark_or_notebook_rendering() -> None:
    """Development tools live in tools/, which setuptools does not ship; the package itself is found."""
    shipped = _shipped_modules()
    assert "gapps_runbook.cli" in shipped and "gapps_runbook.emulator.server" in shipped
    tooling = [m for m in shipped if m.startswith("tools") or re.search(r"\.(\w*bench\w*|render_notebooks)$", m)]
    assert tooling == []
    assert (ROOT / "tools" / "bench.py").is_file() and (ROOT / "tools" / "render_notebooks.py").is_file()
