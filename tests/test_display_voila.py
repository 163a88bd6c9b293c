"""Voilà counts as interactive; a kernel papermill or nbclient starts never does (issue 8 item 2).

Real kernels through nbclient (``allow_stdin=False``, as papermill and Voilà both execute): one whose
``VOILA_KERNEL_ID`` was inherited from the process that started it (another kernel's id) runs headless,
started the papermill way or by a kernel manager as Voilà's (connection file ``kernel-<id>.json``); one
where the variable names the kernel itself, as Voilà sets it before a page's notebook runs, shows forms.
"""

from __future__ import annotations

import tempfile

import pytest

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(240)]

PROBE = "from gapps_runbook.notebook.display import is_interactive\nprint('interactive:', is_interactive())"
INHERITED = "0b9c3f3e-0000-4000-8000-000000000000"  # the Voilà page's kernel that started this process


def run_cells(*sources: str, managed: bool = False, as_voila: bool = False) -> str:
    """Run ``sources`` in a fresh kernel through nbclient; the printed text of the last cell.

    ``managed``: the kernel is started by a multi-kernel manager, as Voilà's are (``kernel-<id>.json``);
    ``as_voila``: a first cell sets ``VOILA_KERNEL_ID`` to that kernel's id, as Voilà does.
    """
    import nbformat
    from jupyter_client.multikernelmanager import MultiKernelManager
    from nbclient import NotebookClient

    manager = MultiKernelManager(connection_dir=tempfile.mkdtemp()) if managed else None
    kernel_id = manager.start_kernel(kernel_name="python3") if manager is not None else ""
    if as_voila:
        sources = (f"import os\nos.environ['VOILA_KERNEL_ID'] = {kernel_id!r}", *sources)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       km=manager.get_kernel(kernel_id) if manager is not None else None).execute()
    finally:
        if manager is not None:
            manager.shutdown_all(now=True)
    return "".join(o.get("text", "") for o in nb.cells[-1].outputs)


@pytest.mark.parametrize("managed", [False, True], ids=["papermill-started", "manager-started"])
def test_a_kernel_that_inherited_voila_kernel_id_is_not_interactive(monkeypatch: pytest.MonkeyPatch,
                                                                     managed: bool) -> None:
    monkeypatch.setenv("VOILA_KERNEL_ID", INHERITED)
    assert run_cells(PROBE, managed=managed).strip() == "interactive: False"


def test_the_kernel_voila_names_is_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOILA_KERNEL_ID", INHERITED)  # inherited, then replaced in the kernel as Voilà does
    assert run_cells(PROBE, managed=True, as_voila=True).strip() == "interactive: True"


def test_outside_a_kernel_nothing_is_interactive(monkeypatch: pytest.MonkeyPatch) -> None:
    from gapps_runbook.notebook.display import in_voila, is_interactive, own_kernel_id

    monkeypatch.setenv("VOILA_KERNEL_ID", "anything")
    assert own_kernel_id() is None
    assert not in_voila()
    assert not is_interactive()
    assert is_interactive(True)
