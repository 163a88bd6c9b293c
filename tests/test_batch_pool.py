"""A batch's pooled kernels (batch/kernel_pool.py): reused across sites, reset between them, replaced when lost.

A probe notebook stands in for a step: it prints, as one JSON line, what it can see of earlier
sites (variables, environment, log handlers, registered secrets, the kernel's pid), then leaves
all of those behind for the next site. One thread (``--jobs 1``) runs the sites in turn, so they
share one kernel unless it was lost.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from gapps_runbook.batch.executors import LocalExecutor, SiteTask
from gapps_runbook.batch.outcome import SiteOutcome

PARAMETERS = 'profile = "default"\nhome = ""\nissuer = ""\ninteractive = None\ndie = False'
PROBE = '''\
import json, logging, os
from gapps_runbook.safety import redact
print("SEEN " + json.dumps({
    "pid": os.getpid(),
    "names": sorted(n for n in globals() if n.startswith("left_by_")),
    "env": os.environ.get("GAPPS_PROBE_LEFT"),
    "handlers": len(logging.getLogger("gapps_runbook").handlers),
    "secret_masked": redact.redact("s3cret-of-site-a") != "s3cret-of-site-a",
}))
globals()["left_by_" + profile.replace("-", "_")] = profile
os.environ["GAPPS_PROBE_LEFT"] = profile
logging.getLogger("gapps_runbook").addHandler(logging.NullHandler())
redact.register_secret("s3cret-of-" + profile)
if die:
    os._exit(1)
'''


def _probe_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(PROBE)]
    nbformat.write(nb, path)
    return path


def _run(tmp_path: Path, sites: list[tuple[str, bool]]) -> dict[str, tuple[SiteOutcome, dict[str, object] | None]]:
    notebook = _probe_notebook(tmp_path / "probe.ipynb")
    batch_dir = tmp_path / "batch"
    tasks = [SiteTask(name, str(tmp_path / "home"), "", str(notebook), str(batch_dir),
                      {"profile": name, "home": str(tmp_path / "home"), "issuer": "", "interactive": False, "die": die})
             for name, die in sites]
    done: dict[str, SiteOutcome] = {}
    LocalExecutor(1).run(tasks, lambda task, outcome: done.__setitem__(task.profile, outcome))
    return {name: (done[name], _seen(batch_dir / name / "probe.ipynb")) for name, _ in sites}


def _seen(path: Path) -> dict[str, object] | None:
    if not path.is_file():
        return None
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", ""))
            if text.startswith("SEEN "):
                return json.loads(text[5:])
    return None


def test_a_site_in_a_reused_kernel_sees_nothing_of_the_previous_site(tmp_path: Path) -> None:
    runs = _run(tmp_path, [("site-a", False), ("site-b", False), ("site-c", False)])
    seen = {name: s for name, (_, s) in runs.items()}
    assert all(s is not None for s in seen.values()), runs
    assert len({s["pid"] for s in seen.values()}) == 1  # one kernel, reused
    for name in ("site-b", "site-c"):  # the first site saw a fresh kernel; so do the others
        assert seen[name] == {**seen["site-a"], "pid": seen[name]["pid"]}
    assert seen["site-a"] == {"pid": seen["site-a"]["pid"], "names": [], "env": None, "handlers": 0,
                              "secret_masked": False}
    assert all(outcome.outcome != "failed" for outcome, _ in runs.values())  # no token: reauthorize, not a crash


def test_a_dead_kernel_is_replaced_and_the_batch_goes_on(tmp_path: Path) -> None:
    runs = _run(tmp_path, [("site-a", False), ("site-b", True), ("site-c", False), ("site-d", False)])
    dead, _ = runs["site-b"]
    assert dead.outcome == "failed" and "kernel was lost" in dead.detail and dead.fix
    assert dead.notebook  # its (partial, scrubbed) notebook is still written
    after = [runs[name] for name in ("site-c", "site-d")]
    assert all(outcome.outcome == "reauthorize" for outcome, _ in after)  # the probe passed; no token
    pids = [seen["pid"] for _, seen in after]  # type: ignore[index]
    assert pids[0] == pids[1] != runs["site-a"][1]["pid"]  # type: ignore[index]  (a new kernel, then reused)
    assert after[0][1]["names"] == [] and after[0][1]["env"] is None  # type: ignore[index]


@pytest.mark.parametrize("env", [{"X_TOKEN": "abc"}])
def test_a_pooled_kernel_takes_no_per_run_environment(tmp_path: Path, env: dict[str, str]) -> None:
    from gapps_runbook.errors import InputError
    from gapps_runbook.runs.execute import run_notebook
    from gapps_runbook.batch.kernel_pool import PooledKernel

    with pytest.raises(InputError, match="pooled kernel"):
        run_notebook(_probe_notebook(tmp_path / "p.ipynb"), tmp_path / "out", {}, env=env, kernel=PooledKernel())
