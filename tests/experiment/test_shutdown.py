"""Killing ``aif-offload experiment``: no process outlives it, finished runs stay, a re-run completes.

A real command in a subprocess with the default (process pool) executor, killed once a first run
file exists: by SIGTERM (a clean stop, exit 143) and by SIGKILL (no clean-up in the parent at all;
the workers must notice on their own). The resumed run must give exactly the numbers of an
uninterrupted run of the same command: every run is seeded by its own seed, so this is exact.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

ARGS = [
    "experiment",
    "training",
    "--agents",
    "greedy,random,round-robin",
    "--seeds",
    "6",
    "--episodes",
    "4",
    "--eval-episodes",
    "0",
    "--workers",
    "2",
    "--no-report",
]
RUNS = 3 * 6
GRACE_S = 10.0


def _command(out: Path) -> list[str]:
    script = Path(sys.executable).with_name("aif-offload")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "aif_offload.cli"]
    return [*head, *ARGS, "--out", str(out)]


def _run(out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(_command(out), capture_output=True, text=True, timeout=300, check=False)


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process, from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended while we looked
            continue
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        table[int(stat.parent.name)] = (int(ppid), state)
    return table


def _descendants(pid: int) -> set[int]:
    table = _processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, (ppid, _) in table.items() if ppid in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    table = _processes()
    return {pid for pid in pids if pid in table and table[pid][1] != "Z"}  # zombies have ended


def _run_files(out: Path) -> dict[str, Path]:
    runs = out / "runs"
    return {str(p.relative_to(runs)): p for p in runs.rglob("*")} if runs.exists() else {}


def _numbers(path: Path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as data:
        return data.load().drop_attrs()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "exp"
    done = _run(out)
    assert done.returncode == 0, done.stderr
    assert "resuming" not in done.stderr
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["sigint", "sigterm", "sigkill"]
)
def test_a_killed_experiment_leaves_no_process_and_resumes_exactly(reference, tmp_path, how):
    out = tmp_path / "exp"
    with open(tmp_path / "stderr.txt", "w+") as stderr:
        parent = subprocess.Popen(_command(out), stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 120
            while not any(out.joinpath("runs").rglob("seed=*.npz")):
                assert parent.poll() is None and time.monotonic() < deadline, "no run finished"
                time.sleep(0.05)
            children = _descendants(parent.pid)
            workers = [pid for pid in children if "spawn_main" in _cmdline(pid)]
            parent.send_signal(how)
            code = parent.wait(60)
        finally:
            if parent.poll() is None:
                parent.kill()
        stderr.seek(0)
        log = stderr.read()

    assert len(workers) >= 2, (children, log)  # the pool was running when it was killed
    deadline = time.monotonic() + GRACE_S
    while _alive(children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(children), f"survived their parent: {_alive(children)}"

    # Nothing is written once every process has gone: what is there now is all there is.
    finished = {name: path for name, path in _run_files(out).items() if name.endswith(".npz")}
    assert 1 <= len(finished) < RUNS and not (out / "results.nc").exists()
    if how != signal.SIGKILL:
        assert code == 128 + how, log
        assert log.strip().splitlines()[-1] == (
            f"aif-offload: interrupted: {len(finished)} of {RUNS} runs finished in {out}, "
            "re-run the same command to resume"
        )
    else:
        assert code == -signal.SIGKILL
    for name, path in finished.items():  # intact: the same arrays as the uninterrupted run's
        with np.load(path) as mine, np.load(reference / "runs" / name) as theirs:
            assert sorted(mine.files) == sorted(theirs.files)
            for key in mine.files:
                if key != "meta":
                    np.testing.assert_array_equal(mine[key], theirs[key])
    stamps = {name: path.stat().st_mtime_ns for name, path in finished.items()}

    again = _run(out)
    assert again.returncode == 0, again.stderr
    assert f"resuming: {len(finished)} of {RUNS} runs already done in {out}" in again.stderr
    assert {n: p.stat().st_mtime_ns for n, p in finished.items()} == stamps  # not redone
    # Every run once, nothing left over from the killed run, and the very same numbers.
    assert sorted(_run_files(out)) == sorted(_run_files(reference))
    assert len([n for n in _run_files(out) if n.endswith(".npz")]) == RUNS
    xr.testing.assert_identical(_numbers(out / "results.nc"), _numbers(reference / "results.nc"))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


_CHILD = """
import ctypes, os, sys, time
from aif_offload.experiment import executors
if sys.argv[1] == "watchdog":
    sys.platform = "elsewhere"  # the portable path alone: no prctl
executors._die_with_parent(os.getppid())
signal = ctypes.c_int(-1)
ctypes.CDLL(None).prctl(2, ctypes.byref(signal), 0, 0, 0)  # PR_GET_PDEATHSIG
print(signal.value, flush=True)
time.sleep(120)
"""
_MIDDLE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
print(child.pid, flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize(("mode", "deathsig"), [("linux", signal.SIGKILL), ("watchdog", 0)])
def test_a_worker_dies_with_its_parent_by_prctl_and_by_its_watchdog(mode, deathsig):
    middle = subprocess.Popen(
        [sys.executable, "-c", _MIDDLE, _CHILD, mode], stdout=subprocess.PIPE, text=True
    )
    try:
        child = int(middle.stdout.readline())
        assert int(middle.stdout.readline()) == deathsig  # the child is ready
        middle.kill()
        middle.wait(10)
        deadline = time.monotonic() + GRACE_S
        while _alive({child}) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive({child})
    finally:
        if middle.poll() is None:
            middle.kill()
        middle.stdout.close()
