"""Child processes that die with the command that started them, even when it is killed with SIGKILL.

``lab`` and ``app`` start servers (JupyterLab, Voilà) and the practice emulator. A command stopped
with Ctrl-C or SIGTERM stops them itself; one killed with SIGKILL runs no code at all, so each child
is started with Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``, prctl(2)): the kernel sends
the child a signal the moment its parent dies. It survives ``execve``, so it is set in the child
between ``fork`` and ``exec`` (``subprocess.Popen``'s ``preexec_fn``). A server that gets SIGTERM shuts
its kernels down; a kernel whose server is gone anyway exits within a second (ipykernel polls its
parent, ``JPY_PARENT_PID``). Elsewhere than Linux there is no such signal and nothing is set.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

PR_SET_PDEATHSIG = 1
"""prctl(2)'s option number (``<linux/prctl.h>``)."""
TOKEN_ENV = "GAPPS_RUNBOOK_APP_TOKEN"
"""How ``gapps-runbook app`` hands its server (:mod:`.voila_app`) the token: never an argument ``ps`` shows."""


def die_with_parent(signum: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get ``signum`` when this process dies; None off Linux.

    Args:
        signum: The signal the child gets (SIGTERM: a server shuts down in order).

    Returns:
        The function to pass as ``subprocess.Popen(..., preexec_fn=...)``.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork: the child only calls it
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the call: nobody would send the signal
            os.kill(os.getpid(), signum)

    return preexec
