"""Reports built once per test session from small synthetic directories (see synthetic.py).

With pytest-xdist every worker has its own session; the workers share one build through a lock
file in the common base temporary directory, so the slowest report is built only once.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager

import pytest

from aif_offload.report import build_report

from .synthetic import add_run_files, make_experiment


@contextmanager
def _shared(tmp_path_factory, name: str):
    """A directory shared by all xdist workers, and whether it still has to be built."""
    root = tmp_path_factory.getbasetemp()
    if root.name.startswith("popen-gw"):  # an xdist worker: share the parent
        root = root.parent
    directory = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield directory, not (directory / "report.html").exists()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def compare_dir(tmp_path_factory):
    """A comparison with belief, posterior-predictive and NUTS files, and its report."""
    with _shared(tmp_path_factory, "shared-compare") as (directory, todo):
        if todo:
            make_experiment(directory, episodes=6)
            add_run_files(directory, episodes=8)
            build_report(directory)
    return directory


@pytest.fixture(scope="session")
def parent_dir(tmp_path_factory):
    """A parent of sweep and load-step experiments (rules and one AIF agent), and its report."""
    parent = tmp_path_factory.mktemp("results")
    agents = ("aif-pymdp", "greedy", "oracle")
    make_experiment(
        parent / "deadline",
        "deadline",
        agents=agents,
        episodes=1,
        eval_episodes=1,
        sweep="t_max_s",
        values=(1.0, 5.0, 10.0),
    )
    make_experiment(
        parent / "load",
        "load",
        agents=agents,
        episodes=1,
        eval_episodes=1,
        sweep="load_percent",
        values=(100.0, 200.0),
    )
    make_experiment(
        parent / "adaptation",
        "adaptation",
        agents=agents,
        episodes=8,
        eval_episodes=1,
        schedule=((4, 180.0),),
    )
    (parent / "unfinished").mkdir()
    (parent / "unfinished" / "experiment.json").write_text("{}")
    build_report(parent)
    return parent
