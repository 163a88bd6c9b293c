"""Store targets S1-S3 (docs/reliability.md): crash safety, concurrency, permissions.

Each target runs twice: a small run in the normal suite and the full run marked ``soak``
(``make soak``). ``GAPPS_SOAK_SCALE`` multiplies the full counts (10 gives the nightly 10 000 crash
trials). ``GAPPS_SOAK_REPORT=<file>`` also appends the summary lines to that file.

Children are forked (multiprocessing's "fork" context, everywhere in this file), so they start in
milliseconds with the store already imported, and a SIGKILL lands inside the write loop rather than in
interpreter start-up. A child never forks while this process holds a profile lock.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import random
import signal
import stat
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import pytest

from gapps_runbook import errors
from gapps_runbook.profile import files, store
from gapps_runbook.oauth.clients import ClientConfig
from gapps_runbook.oauth.endpoints import GOOGLE
from gapps_runbook.oauth.tokens import Token

from fakes import client_id, make_token

CTX = multiprocessing.get_context("fork")
SCALE = float(os.environ.get("GAPPS_SOAK_SCALE", "1"))
SEED = 20250611


def scaled(count: int) -> int:
    return max(1, round(count * SCALE))


S1_SMALL, S1_FULL = 40, scaled(1000)
S1_CONTROL = 30
S2_SMALL, S2_FULL = (4, 50), (8, scaled(500))
SOAK_TIMEOUT = int(max(600, 900 * SCALE))

CLIENT = ClientConfig(
    client_id("q" * 32), "GOCSPX-" + "T" * 28, "desktop",
    "Calendar bridge", "calendar-bridge",
)
FILES = (store.SETTINGS_FILE, store.CLIENT_FILE, store.TOKEN_FILE)


def runs(small: Any, full: Any) -> pytest.MarkDecorator:
    """Parametrize ``size`` as the small run (normal suite) and the full run (``soak``)."""
    return pytest.mark.parametrize("size", [
        pytest.param(small, id="small"),
        pytest.param(full, id="full", marks=[pytest.mark.soak, pytest.mark.timeout(SOAK_TIMEOUT)]),
    ])


def open_profile(home: Path | str, name: str = "soak") -> store.Profile:
    return store.ProfileStore(Path(home)).profile(name)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] if ordered else 0.0


# --- children --------------------------------------------------------------------------------------


def _child_main(conn: Connection, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        outcome: tuple[str, Any] = ("ok", target(*args))
    except BaseException:  # noqa: BLE001 - the parent reports it
        outcome = ("error", traceback.format_exc())
    conn.send(outcome)
    conn.close()


def start_child(target: Callable[..., Any], *args: Any) -> tuple[BaseProcess, Connection]:
    """Fork a child running ``target(*args)``; its result (or traceback) comes back on the connection."""
    receiver, sender = CTX.Pipe(duplex=False)
    child = CTX.Process(target=_child_main, args=(sender, target, args))
    child.start()
    sender.close()
    return child, receiver


def result_of(child: BaseProcess, receiver: Connection, timeout: float) -> Any:
    """The child's return value; fails the test with the child's traceback, or on timeout."""
    try:
        if not receiver.poll(timeout):
            pytest.fail(f"child {child.pid} gave no result within {timeout:g} s (deadlock?)")
        status, value = receiver.recv()
    finally:
        receiver.close()
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join()
    if status != "ok":
        pytest.fail(f"child {child.pid} failed:\n{value}")
    return value


# --- S1: crash-safe store ----------------------------------------------------------------------------


def settings_state(k: int) -> dict[str, Any]:
    """Complete settings state number ``k`` (about 3 KiB, every key depending on ``k``)."""
    state = store.default_settings()
    state.update(
        issuer=f"https://issuer-{k}.example",
        scopes=[f"https://www.googleapis.com/auth/scope-{k}-{i}" for i in range(8)],
        checklist={"state": k},
        steps={"crash": {"status": f"state-{k}", "at": float(k)}},
        padding=f"{k:08d}" * 300,
    )
    return state


def token_state(k: int) -> Token:
    return make_token(1000.0 + k, f"state{k}")


def _slowly(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` after a 0-2 ms sleep, so a kill often lands between temp file and replace."""

    def wrapper(*args: Any) -> Any:
        time.sleep(random.uniform(0, 0.002))
        return function(*args)

    return wrapper


def _torn_write(path: Path, data: bytes, **_options: object) -> None:
    """The write the store must not do (gh, msal): truncate in place, then write in two halves."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fsync(fd)
        os.write(fd, data[: len(data) // 2])
        os.fsync(fd)
        os.write(fd, data[len(data) // 2:])
    finally:
        os.close(fd)


def _crash_writer(home: str, start: int, ack_fd: int, torn: bool) -> None:
    """Write settings state k then token state k, k = start, start+1, ... until killed; ack each."""
    random.seed(os.getpid())
    os.fsync = _slowly(os.fsync)  # this child only
    os.replace = _slowly(os.replace)
    if torn:
        files.write_private = _torn_write  # type: ignore[assignment]  # the control: no atomic replace
    profile = open_profile(home)
    k = start
    while True:
        profile.update_settings(lambda _settings, k=k: settings_state(k))
        os.write(ack_fd, b"s%d\n" % k)
        profile.save_token(token_state(k), CLIENT, GOOGLE)
        os.write(ack_fd, b"t%d\n" % k)
        k += 1


def _read_acks(fd: int, first: bytes = b"") -> dict[str, list[int]]:
    chunks = [first]
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    acks: dict[str, list[int]] = {"s": [], "t": []}
    for line in b"".join(chunks).decode().split():
        acks[line[0]].append(int(line[1:]))
    return acks


@dataclass
class CrashTally:
    """What the crash trials saw."""

    trials: int = 0
    whole: int = 0  # trials where both files were a whole old or new state
    new_states: int = 0  # files found holding the write that was in flight at the kill
    temps_left: int = 0  # trials that left a temp file (the kill landed mid-write)
    readable_temps: int = 0
    failures: list[str] = field(default_factory=list)


def _check_file(profile: store.Profile, name: str, allowed: set[int]) -> tuple[int | None, str | None]:
    """The state number in ``name`` if it is a whole allowed state, 0600, regular; else a failure."""
    path = profile.file(name)
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode) or stat.S_IMODE(info.st_mode) != 0o600:
        return None, f"{name} is mode {oct(info.st_mode)}"
    try:
        document = json.loads(path.read_bytes())
        if name == store.SETTINGS_FILE:
            k = int(document["checklist"]["state"])
            whole = document == settings_state(k) and profile.load_settings() == settings_state(k)
        else:
            k = int(document["gapps_runbook"]["issued_at"]) - 1000
            loaded, expected = profile.load_token(), token_state(k)
            whole = loaded is not None and (loaded.access_token, loaded.refresh_token, loaded.issued_at) == (
                expected.access_token, expected.refresh_token, expected.issued_at)
    except (ValueError, KeyError, TypeError, errors.StoreError) as exc:
        return None, f"{name} is torn ({type(exc).__name__}: {str(exc)[:80]})"
    if not whole:
        return None, f"{name} holds a mix of states around {k}"
    if k not in allowed:
        return None, f"{name} holds state {k}, neither old nor new {sorted(allowed)}"
    return k, None


def _check_temps(profile: store.Profile, tally: CrashTally) -> None:
    temps = [n for n in os.listdir(profile.path) if n.startswith(".") and n.endswith(".tmp")]
    tally.temps_left += bool(temps)
    for name in temps:
        if mode(profile.path / name) & 0o077 or not stat.S_ISREG(os.lstat(profile.path / name).st_mode):
            tally.readable_temps += 1
            tally.failures.append(f"temp {name} is mode {oct(mode(profile.path / name))}")
    for target in (store.SETTINGS_FILE, store.TOKEN_FILE):
        if sum(n.startswith(f".{target}.") for n in temps) > 1:
            tally.failures.append(f"stale temps of {target} were not cleaned by the next write: {temps}")


def run_crash_trials(home: Path, trials: int, *, seed: int, torn: bool = False) -> CrashTally:
    """SIGKILL a writer ``trials`` times 0-50 ms after its first write; check old-or-new, modes and temp files."""
    rng = random.Random(seed)
    profile = open_profile(home)
    profile.update_settings(lambda _settings: settings_state(0))
    profile.save_token(token_state(0), CLIENT, GOOGLE)
    on_disk = {store.SETTINGS_FILE: 0, store.TOKEN_FILE: 0}
    tally, start = CrashTally(), 1
    for trial in range(trials):
        ack_read, ack_write = os.pipe()
        writer = CTX.Process(target=_crash_writer, args=(str(home), start, ack_write, torn))
        writer.start()
        os.close(ack_write)
        first = os.read(ack_read, 64)  # the writer is past its start-up (its first write is done) ...
        time.sleep(rng.uniform(0, 0.050))  # ... so the kill lands among its writes, whatever start-up costs
        writer.kill()
        writer.join(10)
        acks = _read_acks(ack_read, first)
        os.close(ack_read)
        tally.trials += 1
        if writer.exitcode != -signal.SIGKILL:
            tally.failures.append(f"trial {trial}: the writer exited with {writer.exitcode} before the kill")
        failures_before = len(tally.failures)
        for folder in (profile.store.home, profile.store.profiles_dir, profile.path):
            if mode(folder) != 0o700:
                tally.failures.append(f"trial {trial}: {folder} is {oct(mode(folder))}")
        _check_temps(profile, tally)
        for name, key in ((store.SETTINGS_FILE, "s"), (store.TOKEN_FILE, "t")):
            old = acks[key][-1] if acks[key] else on_disk[name]
            new = acks[key][-1] + 1 if acks[key] else start
            k, failure = _check_file(profile, name, {old, new})
            if failure:
                tally.failures.append(f"trial {trial}: {failure}")
                continue
            on_disk[name] = k
            tally.new_states += k == new and k != old
        tally.whole += len(tally.failures) == failures_before
        start = max([start, *acks["s"], *acks["t"]]) + 2
        if torn and tally.failures:
            return tally  # the control has shown what it had to; its torn file would stop every writer
    profile.update_settings(lambda _settings: settings_state(start))  # the next writes clean up
    profile.save_token(token_state(start), CLIENT, GOOGLE)
    leftover = [n for n in os.listdir(profile.path) if n.endswith(".tmp")]
    if leftover:
        tally.failures.append(f"temp files survived the next write: {leftover}")
    return tally


@runs(S1_SMALL, S1_FULL)
def test_s1_sigkill_mid_write_leaves_old_or_new(tmp_path: Path, size: int,
                                                soak_report: Callable[[str], None]) -> None:
    tally = run_crash_trials(tmp_path / "home", size, seed=SEED)
    soak_report(f"S1 crash-safe store: {tally.whole}/{tally.trials} trials old-or-new, "
                f"{tally.readable_temps} readable temps (target {size}/{size}); "
                f"{tally.temps_left} kills left a 0600 temp (mid-write), "
                f"{tally.new_states} files held the in-flight write")
    assert tally.failures == [], tally.failures[:10]
    assert tally.whole == size and tally.readable_temps == 0
    assert tally.temps_left > 0, "no kill landed mid-write: the trials proved nothing"


def test_s1_harness_catches_a_write_in_place(tmp_path: Path) -> None:
    """The control: with truncate-and-write instead of the atomic replace, the same trials fail."""
    tally = run_crash_trials(tmp_path / "home", S1_CONTROL, seed=SEED + 1, torn=True)
    assert any("torn" in failure for failure in tally.failures), tally


# --- S2: concurrency ---------------------------------------------------------------------------------

OPS = ("checklist", "steps", "refresh", "status")


def _bump(kind: str) -> Callable[[dict[str, Any]], None]:
    def edit(settings: dict[str, Any]) -> None:
        if kind == "checklist":
            settings["checklist"]["counter"] = int(settings["checklist"].get("counter", 0)) + 1
        else:
            step = settings["steps"].get("soak", {"status": "ran", "count": 0})
            settings["steps"]["soak"] = {**step, "count": int(step["count"]) + 1}

    return edit


def _counters(settings: dict[str, Any]) -> dict[str, int]:
    return {
        "checklist": int(settings["checklist"].get("counter", 0)),
        "steps": int(settings["steps"].get("soak", {}).get("count", 0)),
    }


def _rmw_worker(home: str, worker: int, workers: int, cycles: int, start_at: float) -> dict[str, Any]:
    """``cycles`` locked read-modify-writes and status reads; returns what it did and saw.

    A status read is what ``status`` does: the settings without the lock, the token under it. A lock
    timeout there is counted as such, not as a parse error (``LockTimeout`` is a ``StoreError``).
    """
    profile = open_profile(home)
    done = {"checklist": 0, "steps": 0, "refresh": 0, "status": 0}
    seen = {"checklist": 0, "steps": 0}
    waits: list[float] = []
    stamps: list[float] = []
    parse_errors = stale_reads = kept_out = lock_timeouts = 0
    time.sleep(max(0.0, start_at - time.time()))
    for i in range(cycles):
        kind = OPS[(i + worker) % len(OPS)]
        done[kind] += 1
        if kind == "status":
            try:
                now = _counters(profile.load_settings())  # unlocked: atomic replace must be enough
                profile.load_token()
            except errors.LockTimeout:
                lock_timeouts += 1
                continue
            except errors.StoreError:
                parse_errors += 1
                continue
            stale_reads += any(now[key] < seen[key] for key in seen)  # read-your-writes
            seen = {key: max(seen[key], now[key]) for key in seen}
            continue
        began = time.perf_counter()
        with profile.locked():
            waits.append(time.perf_counter() - began)
            if kind == "refresh":
                stamp = float(1_000_000 + i * workers + worker)
                kept_out += not profile.save_token(make_token(stamp, f"w{worker}i{i}"), CLIENT, GOOGLE)
                stamps.append(stamp)
            else:
                seen[kind] = _counters(profile.update_settings(_bump(kind)))[kind]
    return {"done": done, "waits": waits, "stamps": stamps, "parse_errors": parse_errors,
            "stale_reads": stale_reads, "kept_out": kept_out, "lock_timeouts": lock_timeouts}


@runs(S2_SMALL, S2_FULL)
def test_s2_concurrent_read_modify_write(tmp_path: Path, size: tuple[int, int],
                                         soak_report: Callable[[str], None]) -> None:
    workers, cycles = size
    home = tmp_path / "home"
    open_profile(home).update_settings(lambda _settings: None)
    began = time.monotonic()
    start_at = time.time() + 0.3
    children = [start_child(_rmw_worker, str(home), w, workers, cycles, start_at) for w in range(workers)]
    results = [result_of(child, receiver, 600 * SCALE) for child, receiver in children]
    elapsed = time.monotonic() - began

    final = open_profile(home)
    counters = _counters(final.load_settings())
    expected = {key: sum(r["done"][key] for r in results) for key in counters}
    lost = sum(expected[key] - counters[key] for key in counters)
    parse_errors = sum(r["parse_errors"] for r in results)
    stale = sum(r["stale_reads"] for r in results)
    lock_timeouts = sum(r["lock_timeouts"] for r in results)
    newest = max(stamp for r in results for stamp in r["stamps"])
    token = final.load_token()
    waits = [w for r in results for w in r["waits"]]
    worst_p99 = max(percentile(r["waits"], 0.99) for r in results)
    rmw = sum(expected.values())
    soak_report(f"S2 concurrency: {workers} processes x {cycles} cycles in {elapsed:.1f} s; "
                f"{lost} lost of {rmw} counter updates, {parse_errors} parse errors, {stale} stale reads, "
                f"{lock_timeouts} status reads timed out on the lock; "
                f"newest refresh wins: {token is not None and token.issued_at == newest} "
                f"({sum(r['kept_out'] for r in results)} older refreshes kept out); lock wait p99 "
                f"{percentile(waits, 0.99) * 1000:.0f} ms (worst process {worst_p99 * 1000:.0f} ms), "
                f"max {max(waits) * 1000:.0f} ms (target p99 < 1000 ms)")
    assert counters == expected and lost == 0
    assert parse_errors == 0 and stale == 0
    assert lock_timeouts == 0, f"{lock_timeouts} status reads waited over {store.DEFAULT_LOCK_TIMEOUT:g} s for the lock"
    assert token is not None and token.issued_at == newest
    assert max(waits) < store.DEFAULT_LOCK_TIMEOUT
    assert worst_p99 < (1.0 if (workers, cycles) == S2_FULL else 5.0)
    assert not [n for n in os.listdir(final.path) if n.endswith(".tmp")]


def _hold_lock(home: str, held: Any, release: Any) -> None:
    with open_profile(home).locked():
        held.set()
        release.wait(30)


def _try_lock(home: str, timeout: float) -> tuple[str, str, float]:
    began = time.monotonic()
    try:
        with open_profile(home).locked(timeout=timeout):
            return "acquired", "", time.monotonic() - began
    except errors.RunbookError as exc:
        return type(exc).__name__, str(exc), time.monotonic() - began


def test_s2_a_held_lock_times_out_another_process(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    held, release = CTX.Event(), CTX.Event()
    holder, holder_result = start_child(_hold_lock, home, held, release)
    try:
        assert held.wait(30)
        kind, message, waited = result_of(*start_child(_try_lock, home, 0.5), 30)
    finally:
        release.set()
    result_of(holder, holder_result, 30)
    assert kind == "LockTimeout" and 0.5 <= waited < 2.5, (kind, waited)
    assert "\n" not in message
    assert message.startswith("profile 'soak' is locked by another gapps-runbook process (waited 0.5 s for ")
    assert "Fix: wait for the other gapps-runbook process to finish" in message
    assert result_of(*start_child(_try_lock, home, 5.0), 30)[0] == "acquired"  # released when the holder ended


# --- S3: permissions -------------------------------------------------------------------------------

UMASKS = (0o000, 0o022, 0o077)
STATES = ("0644", "0666", "symlink-outside", "symlink-inside")


def _preexisting(profile: store.Profile, state: str, outside: Path) -> dict[Path, tuple[bytes, int]]:
    """Make ``profile`` look like another tool's: loose folders, and each file in ``state``.

    Returns:
        For symlink states, each link target's bytes and mode (they must not change).
    """
    profile.update_settings(lambda settings: settings.update(flow="desktop"))
    profile.save_client(CLIENT, GOOGLE)
    profile.save_token(make_token(1000.0, "old"), CLIENT, GOOGLE)
    loose = 0o777 if state == "0666" else 0o755
    for folder in (profile.store.home, profile.store.profiles_dir, profile.path):
        folder.chmod(loose)
    targets: dict[Path, tuple[bytes, int]] = {}
    for name in FILES:
        path = profile.file(name)
        if not state.startswith("symlink"):
            path.chmod(int(state, 8))
            continue
        target = (outside if state == "symlink-outside" else profile.path) / f"target-{name}"
        target.write_bytes(path.read_bytes())
        target.chmod(0o644)
        path.unlink()
        path.symlink_to(target)
        targets[target] = (target.read_bytes(), 0o644)
    return targets


def _expect_refusal(action: Callable[[], Any]) -> None:
    try:
        action()
    except errors.StoreError as exc:
        assert "symbolic link; refusing" in str(exc), str(exc)
        return
    raise AssertionError(f"{action} followed a symlink instead of refusing it")


def _permission_case(home: str, outside: str, umask: int, state: str) -> str:
    """One S3 case, run in a child so ``os.umask`` stays there. Returns "0600" or "refused"."""
    os.umask(umask)
    profile = open_profile(home)
    targets = _preexisting(profile, state, Path(outside))
    fresh = make_token(2000.0, "new")
    actions = (
        (profile.load_settings, lambda: profile.update_settings(lambda s: s.update(flow="device"))),
        (profile.load_client, lambda: profile.save_client(CLIENT, GOOGLE)),
        (profile.load_token, lambda: profile.save_token(fresh, CLIENT, GOOGLE)),
    )
    for load, write in actions:
        if targets:
            _expect_refusal(load)
            _expect_refusal(write)
        else:
            assert load() is not None
            write()
    for folder in (profile.store.home, profile.store.profiles_dir, profile.path):
        assert mode(folder) == 0o700, (folder, oct(mode(folder)))
    for target, (content, target_mode) in targets.items():
        assert target.read_bytes() == content and mode(target) == target_mode, target
    for name in FILES:
        path = profile.file(name)
        if targets:
            assert path.is_symlink(), path  # refused and left as it was
        else:
            assert stat.S_ISREG(os.lstat(path).st_mode) and mode(path) == 0o600, (path, oct(mode(path)))
    if targets:
        return "refused"
    assert profile.load_settings()["flow"] == "device" and profile.load_token().issued_at == 2000.0
    return "0600"


@runs("small", "full")
def test_s3_permission_matrix_in_subprocesses(tmp_path: Path, size: str,
                                              soak_report: Callable[[str], None]) -> None:
    outcomes: dict[tuple[int, str], str] = {}
    for umask in UMASKS:
        for state in STATES:
            case = tmp_path / f"{umask:03o}-{state}"
            (case / "outside").mkdir(parents=True)
            child = start_child(_permission_case, str(case / "home"), str(case / "outside"), umask, state)
            outcomes[umask, state] = result_of(*child, 60)
    counts = {kind: sum(v == kind for v in outcomes.values()) for kind in ("0600", "refused")}
    soak_report(f"S3 permissions: {sum(counts.values())}/{len(outcomes)} cases end 0600 in 0700 folders "
                f"or are refused ({counts['0600']} tightened, {counts['refused']} refused), "
                f"0 symlinks followed (target 12/12)")
    assert len(outcomes) == 12 and counts == {"0600": 6, "refused": 6}
