"""``gapps-runbook batch STEP``: one step's notebook over many sites, in parallel, into one batch folder.

The sites come from ``--profiles A,B``, ``--all`` (every profile under the profile home) or a
``--sites FILE.csv`` with the columns ``profile``, ``issuer`` (optional) and ``notes`` (optional).
Every site's parameters are checked by :func:`safety.params.check_parameters` before anything
starts (secrets are never parameters; the kernels read them from the profiles).

The batch folder (0700) holds ``<profile>/<notebook>.ipynb`` (executed, scrubbed) per site,
``summary.json``, ``summary.csv`` and ``report.html`` (:mod:`.outputs`). On Ctrl-C, SIGTERM
(``timeout``, systemd, ``docker stop``, a CI cancel) or SIGHUP (the terminal closed) the sites not
started are dropped, the running ones end (on a terminal their kernels get the same Ctrl-C), and the
summary is written with what finished; the rest are ``failed`` with the detail ``cancelled``. Each
site is also appended to ``journal.jsonl`` (:mod:`.journal`) as it finishes, so after a
SIGKILL :func:`resume_batch` rebuilds the summary and runs the unfinished sites again.
The exit code is :func:`.outcome.batch_exit_code` of the outcomes.
"""

from __future__ import annotations

import contextlib
import csv
import io
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from ..profile.secret_sources import read_regular_file
from ..profile.store import ProfileStore
from .executors import Executor, SiteTask
from .journal import Journal, read_journal
from .outcome import CANCELLED, SiteOutcome, batch_exit_code

if TYPE_CHECKING:
    from tqdm import tqdm

Echo = Callable[[str], None]
SITES_COLUMNS = ("profile", "issuer", "notes")


@dataclass(frozen=True)
class SiteSpec:
    """A site to run: its profile, its issuer ("" = the profile's own) and free notes."""

    profile: str
    issuer: str = ""
    notes: str = ""


@dataclass(frozen=True)
class BatchResult:
    """A finished (or cancelled) batch: its folder, the rows in site order, the exit code."""

    batch_dir: Path
    outcomes: list[SiteOutcome]
    exit_code: int
    cancelled: bool


MAX_SITES = 10_000
"""The most sites one batch runs (a sites file or a selection with more is refused before anything starts)."""
MAX_SITES_FILE_BYTES = 8 * 1024 * 1024
"""The largest sites file read (its size is read first; 10 000 rows of profile, issuer and notes fit well)."""
_SITES_FIX = "pass a UTF-8 CSV file with the columns profile,issuer,notes"


def select_sites(*, profiles: str | None, all_profiles: bool, sites_file: Path | None, home: Path | None,
                 issuer: str | None) -> list[SiteSpec]:
    """The sites of exactly one of ``--profiles``, ``--all`` and ``--sites``, in order, without duplicates.

    Raises:
        InputError: None or several of the three were given, a sites file is unreadable, too large
            or malformed (a bad issuer included), the selection is empty or larger than
            :data:`MAX_SITES`, or names a profile that does not exist.
    """
    if sum((profiles is not None, all_profiles, sites_file is not None)) != 1:
        raise InputError("choose the sites with exactly one of --profiles, --all and --sites",
                         fix="e.g. --profiles site-a,site-b, or --all, or --sites sites.csv")
    store = ProfileStore(home)
    if sites_file is not None:
        specs = read_sites_file(sites_file)
    elif all_profiles:
        specs = [SiteSpec(name) for name in store.names()]
    else:
        specs = [SiteSpec(name.strip()) for name in (profiles or "").split(",") if name.strip()]
    if not specs:
        where = "under the profile home" if all_profiles else "in the selection"
        raise InputError(f"no sites {where}", fix="create profiles first (client set, authorize) or name them")
    seen: dict[str, SiteSpec] = {}
    for spec in specs:
        store.profile(spec.profile)  # refuses a malformed name (InputError)
        seen.setdefault(spec.profile, SiteSpec(spec.profile, spec.issuer or issuer or "", spec.notes))
    if len(seen) > MAX_SITES:
        raise InputError(f"{len(seen)} sites is more than one batch runs ({MAX_SITES})",
                         fix="split the sites into several batches")
    _refuse_unknown(list(seen), set(store.names()))
    return list(seen.values())


def _refuse_unknown(names: list[str], existing: set[str]) -> None:
    """Refuse a selection naming profiles that do not exist (each would only fail, one kernel run each)."""
    unknown = [name for name in names if name not in existing]
    if unknown:
        shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise InputError(f"{len(unknown)} of the {len(names)} sites name no existing profile: {shown}",
                         fix="fix the names, or create the profiles first (gapps-runbook status --all lists them)")


def read_sites_file(path: Path) -> list[SiteSpec]:
    """Read a sites CSV (header ``profile,issuer,notes``; ``issuer`` and ``notes`` may be missing or empty).

    The file must be a regular file of at most :data:`MAX_SITES_FILE_BYTES` (its size is read before
    its bytes; a FIFO cannot block the open); each issuer given is checked as ``--issuer`` is.

    Raises:
        InputError: Unreadable, not a regular file, too large, not CSV/UTF-8, no ``profile`` column,
            more than :data:`MAX_SITES` rows, or a row's issuer is not a valid issuer URL.
    """
    from ..oauth.endpoints import check_issuer_url

    reader = csv.DictReader(io.StringIO(_read_bounded(path), newline=""))
    try:
        if not reader.fieldnames or "profile" not in reader.fieldnames:
            raise InputError(f"{path} has no 'profile' column", fix=f"start it with the header {','.join(SITES_COLUMNS)}")
        specs: list[SiteSpec] = []
        for row in reader:
            name = (row.get("profile") or "").strip()
            if not name:
                continue
            if len(specs) == MAX_SITES:
                raise InputError(f"{path} has more than {MAX_SITES} sites", fix="split it into several batches")
            site_issuer = (row.get("issuer") or "").strip()
            if site_issuer:
                try:
                    check_issuer_url(site_issuer)  # the value stays as written: --issuer's is not rewritten either
                except InputError as exc:
                    raise InputError(f"{path} line {reader.line_num}: {exc.message}",
                                     fix="put the provider's https issuer URL in that row, or leave it empty") from None
            specs.append(SiteSpec(name, site_issuer, (row.get("notes") or "").strip()))
    except csv.Error as exc:
        raise InputError(f"cannot read the sites file {path}: {type(exc).__name__}", fix=_SITES_FIX) from None
    return specs


def _read_bounded(path: Path) -> str:
    """The sites file's text: a regular file, its size checked before it is read."""
    data = read_regular_file(path, MAX_SITES_FILE_BYTES, name=f"the sites file {path}", fix=_SITES_FIX,
                             too_large=f"the sites file {path} is larger than {MAX_SITES_FILE_BYTES // 2**20} MiB",
                             too_large_fix=f"split it into batches of at most {MAX_SITES} sites")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"the sites file {path} is not UTF-8 text", fix=_SITES_FIX) from None


def plan(specs: list[SiteSpec], notebook: Path, batch_dir: Path, parameters: Mapping[str, object],
         home: Path | None) -> list[SiteTask]:
    """One :class:`SiteTask` per site, each with checked parameters (nothing has started yet).

    Raises:
        InputError: A parameter carries a secret (``check_parameters``), or the notebook has no parameter of
            one of the names given (``check_names``).
    """
    from ..runs.parameters import check_names, check_parameters

    tasks = []
    for spec in specs:
        values: dict[str, object] = {"profile": spec.profile, "home": str(home or ""), "issuer": spec.issuer,
                                     "interactive": False, **parameters}
        check_parameters(values)
        tasks.append(SiteTask(spec.profile, str(home or ""), spec.issuer, str(notebook), str(batch_dir), values, spec.notes))
    check_names([notebook], parameters)  # after the secret check: a secret's name gets the secret's message
    return tasks


def run_batch(tasks: list[SiteTask], executor: Executor, *, title: str, echo: Echo = print,
              progress: bool | None = None, finished: Mapping[str, SiteOutcome] | None = None) -> BatchResult:
    """Run every task through ``executor``, then write the summary and the report (also on Ctrl-C,
    SIGTERM and SIGHUP); each finished site goes to the journal first.

    Args:
        tasks: From :func:`plan`; all share one batch folder.
        executor: Local threads or Dask.
        title: The report's title.
        echo: Where plain progress lines go.
        progress: Show a progress bar (default: when stderr is a terminal).
        finished: Resuming: the sites the journal holds (not run again); None: a new batch, whose
            journal is created with the plan.

    Returns:
        The batch's result; the caller exits with ``exit_code``.
    """
    from .outputs import write_outputs

    batch_dir = Path(tasks[0].batch_dir)
    done: dict[str, SiteOutcome] = dict(finished or {})
    journal = Journal.start(batch_dir, title, tasks) if finished is None else Journal.open(batch_dir)
    todo = [t for t in tasks if t.profile not in done]
    show = progress if progress is not None else sys.stderr.isatty()
    bar = _progress_bar(len(tasks), len(done)) if show else None
    cancelled = False
    unjournaled: list[str] = []

    def on_done(task: SiteTask, outcome: SiteOutcome) -> None:
        with stops.held():  # a stop signal now could leave a site out of the journal, the summary or the lines
            done[task.profile] = outcome
            try:
                journal.record(outcome)
            except OSError as exc:  # the summary at the end still holds the site
                if not unjournaled:
                    echo(f"warning: cannot append to {journal.path} ({exc.strerror}); "
                         "the summary is written at the end")
                unjournaled.append(task.profile)
            try:
                if bar is not None:
                    bar.set_postfix_str(f"{task.profile}: {outcome.outcome}", refresh=False)
                    bar.update(1)
                else:
                    echo(f"[{len(done)}/{len(tasks)}] {task.profile:24} {outcome.outcome} ({outcome.duration:.1f} s)")
            except OSError:  # the terminal is gone (SIGHUP): the batch and its summary go on without progress lines
                pass

    with stop_signals_as_interrupt() as stops:  # a second signal while the summary is written is ignored
        try:
            if todo:
                executor.run(todo, on_done)
        except KeyboardInterrupt:
            cancelled = True
        finally:
            journal.close()
            if bar is not None:
                bar.close()
        outcomes = [done.get(t.profile) or SiteOutcome(t.profile, "failed", CANCELLED,
                                                       "run the batch again for this site", notes=t.notes)
                    for t in tasks]
        write_outputs(batch_dir, outcomes, title=title)
    return BatchResult(batch_dir, outcomes, batch_exit_code([o.outcome for o in outcomes]), cancelled)


def resume_plan(batch_dir: Path) -> tuple[str, list[SiteTask], dict[str, SiteOutcome]]:
    """A batch folder's title, tasks (pointed at this folder) and finished sites, from its journal.

    Raises:
        InputError: ``batch_dir`` is not a batch folder with a journal.
    """
    state = read_journal(batch_dir)
    folder = str(batch_dir)
    tasks = [SiteTask(t.profile, t.home, t.issuer, t.notebook, folder, t.parameters, t.notes) for t in state.tasks]
    if not tasks:
        raise InputError(f"the batch journal in {batch_dir} names no sites", fix="start a new batch")
    return state.title, tasks, state.finished


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""Ctrl-C, and what ``timeout``, systemd, ``docker stop`` and a CI cancel (SIGTERM) or a closed terminal (SIGHUP) send."""


class StopSignals:
    """The stop signals as one KeyboardInterrupt in the main thread; later ones are ignored so the
    summary is written. Inside :meth:`held` a signal waits until the block ends."""

    def __init__(self) -> None:
        self.raised = False
        self.holding = 0
        self.pending: int | None = None

    def handle(self, signum: int, _frame: object) -> None:
        """The handler of every stop signal."""
        if self.raised:
            return
        if self.holding:
            self.pending = signum
            return
        self.raised = True
        raise KeyboardInterrupt(signal.Signals(signum).name)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Hold the stop signals while the block runs (a finished site is recorded in one piece)."""
        self.holding += 1
        try:
            yield
        finally:
            self.holding -= 1
        if not self.holding and self.pending is not None and not self.raised:
            signum, self.pending = self.pending, None
            self.raised = True
            raise KeyboardInterrupt(signal.Signals(signum).name)


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[StopSignals]:
    """Install :class:`StopSignals` for :data:`STOP_SIGNALS` (main thread only); the previous handlers come back after."""
    stops = StopSignals()
    if threading.current_thread() is not threading.main_thread():
        yield stops
        return
    saved = {number: signal.signal(number, stops.handle) for number in STOP_SIGNALS}
    try:
        yield stops
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def _progress_bar(total: int, initial: int = 0) -> tqdm[Any]:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="site", file=sys.stderr, dynamic_ncols=True)
