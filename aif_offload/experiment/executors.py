"""Run the pending units of an experiment here, in a local process pool, or on a Ray cluster.

Every unit is a pure function of (spec, unit): its seeds fix the workloads and the agent, so the
numbers are the same whichever executor ran it and in whatever order (tested). Each unit writes its
own file when it finishes; ``results.nc`` is assembled from them at the end.

Shutdown: an interrupt that leaves the wait for results (``KeyboardInterrupt``: SIGINT, and
SIGTERM as the entry point maps it) terminates the pool's workers before it propagates, so
nothing keeps running or writing after the caller has gone; the runs in progress are redone by
the next run of the same command. A run that fails lets the runs in progress finish and starts
no more. Workers also die with their parent when it is killed outright
(``PR_SET_PDEATHSIG`` on Linux, a thread watching ``os.getppid()`` elsewhere).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from aif_offload.agents import agent_info
from aif_offload.agents.registry import batches_seeds
from aif_offload.experiment.results import provenance
from aif_offload.experiment.runner import SeedOutputs, run_agent
from aif_offload.experiment.spec import ExperimentSpec, Unit
from aif_offload.experiment.store import RunStore

EXECUTORS = ("local", "ray")
WORKER_STOP_GRACE_S = 5.0  # how long terminated workers get to exit before they are killed
PARENT_POLL_S = 0.5  # how often a worker's watchdog checks that its parent is alive


def execute_units(
    spec_json: str,
    units: tuple[Unit, ...],
    directory: str,
    tick: Callable[[], None] | None = None,
) -> tuple[Unit, ...]:
    """Run units of one agent at one swept value as one batch of seeds and write each unit's
    files; safe to call in any process. ``tick`` is called once per unit and episode."""
    spec = ExperimentSpec.from_json(spec_json)
    store = RunStore(Path(directory), spec)
    agent, value = units[0].agent, units[0].value
    if any((u.agent, u.value) != (agent, value) for u in units):
        raise ValueError("units: a batch must share its agent and swept value")
    scenario = spec.scenario_at(value)
    # The worker rebuilds the agent from its spec alone: registered names and entry points are
    # known in every process, module:Class and file.py:Class are imported or loaded here.
    source = spec.source_of(agent)
    common = provenance(scenario, {agent: agent_info(source).record()}, "")
    common |= {"experiment": spec.name, "agent": agent}
    attrs = [common | {"seed": str(u.seed)} for u in units]
    outputs = [
        SeedOutputs(store.beliefs_path(u), store.tasks_path(u) if spec.task_records else None, a)
        for u, a in zip(units, attrs, strict=True)
    ]

    def tick_each() -> None:
        for _ in units:
            tick()

    runs = run_agent(
        source,
        scenario,
        [u.seed for u in units],
        spec.episodes,
        eval_episodes=spec.eval_episodes,
        schedule=spec.schedule_scenarios(value),
        on_episode=None if tick is None else tick_each,
        seed_outputs=outputs,
    )
    for unit, run, unit_attrs in zip(units, runs, attrs, strict=True):
        store.save(unit, type(run)(**{**run.__dict__, "agent": agent, "value": value}), unit_attrs)
    return units


def seed_batches(spec: ExperimentSpec, pending: list[Unit], workers: int) -> list[tuple[Unit, ...]]:
    """The pending units as the batches they run in: the seeds of one agent at one swept value
    together where the agent batches seeds (``Agent.batches_seeds``), each unit alone otherwise.
    A group is split so that there are at least ``workers`` batches where units allow. Batches of
    several seeds come first, the largest first: one of them costs several single runs, and
    submitted last it is the tail that one worker finishes while the others idle."""
    groups: dict[tuple[str, float | None], list[Unit]] = {}
    singles: list[tuple[Unit, ...]] = []
    for unit in pending:
        if batches_seeds(spec.source_of(unit.agent)):
            groups.setdefault((unit.agent, unit.value), []).append(unit)
        else:
            singles.append((unit,))
    batches: list[tuple[Unit, ...]] = []
    parts = max(1, -(-(workers - len(singles)) // max(1, len(groups))))
    for units in groups.values():
        size = -(-len(units) // min(parts, len(units)))
        batches.extend(tuple(units[i : i + size]) for i in range(0, len(units), size))
    batches.sort(key=len, reverse=True)  # stable: equal sizes keep the experiment's order
    return batches + singles


_ticks = None  # a pool worker's progress queue, set by _init_worker


def _pool_units(spec_json: str, units: tuple[Unit, ...], directory: str) -> tuple[Unit, ...]:
    ticks = _ticks
    return execute_units(
        spec_json, units, directory, None if ticks is None else lambda: ticks.put(1)
    )


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        transient=True,
    )


def run_experiment(
    spec: ExperimentSpec,
    directory: Path,
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    command: str = "",
    console: Console | None = None,
) -> Path:
    """Run what is missing of ``spec`` in ``directory`` and assemble ``results.nc``."""
    if executor not in EXECUTORS:
        raise ValueError(
            f"--executor: unknown executor '{executor}', allowed: {', '.join(EXECUTORS)}"
        )
    if workers is not None and workers < 1:
        raise ValueError(f"--workers: must be >= 1, got {workers}")
    store = RunStore(directory, spec)
    store.open()
    pending = store.pending()
    done_before = len(spec.units()) - len(pending)
    if done_before:
        (console or Console(stderr=True)).print(
            f"resuming: {done_before} of {len(spec.units())} runs already done in {directory}",
            soft_wrap=True,
            highlight=False,
        )
    episodes_each = spec.episodes + spec.eval_episodes
    with _progress(console) as progress:
        sweep_bar = progress.add_task(
            f"{spec.name}: runs",
            total=len(spec.units()),
            completed=len(spec.units()) - len(pending),
        )
        episode_bar = progress.add_task(
            "  episodes of pending runs", total=len(pending) * episodes_each
        )

        started, done_here = time.monotonic(), 0

        def finished(unit: Unit) -> None:
            nonlocal done_here
            done_here += 1
            progress.advance(sweep_bar)
            progress.update(
                sweep_bar, description=f"{spec.name}: runs (last {unit.label(spec.sweep_dim)})"
            )
            if not progress.console.is_terminal:  # a log file: no live bars, so one line per run
                elapsed = time.monotonic() - started
                eta = elapsed / done_here * (len(pending) - done_here)
                progress.console.print(
                    f"{spec.name}: {len(spec.units()) - len(pending) + done_here}/"
                    f"{len(spec.units())} runs done (last {unit.label(spec.sweep_dim)}), "
                    f"{elapsed / 60:.1f} min elapsed, about {eta / 60:.0f} min left",
                    soft_wrap=True,
                )

        def tick() -> None:
            progress.advance(episode_bar)

        slots = workers or os.cpu_count() or 1
        batches = seed_batches(spec, pending, slots)

        def finished_batch(units: tuple[Unit, ...]) -> None:
            for unit in units:
                finished(unit)

        if executor == "ray":
            _run_ray(spec, store, batches, workers, address, tick, finished_batch)
        elif slots == 1 or len(batches) <= 1:
            for units in batches:
                finished_batch(execute_units(spec.to_json(), units, str(store.directory), tick))
        else:
            _run_pool(spec, store, batches, slots, tick, finished_batch)
    agents = {name: agent_info(spec.source_of(name)).record() for name in spec.agents}
    attrs = provenance(spec.base_scenario(), agents, command)
    attrs["experiment"] = spec.name
    attrs["experiment_json"] = spec.to_json()
    return store.assemble(attrs)


def _one_thread_each() -> None:
    """Pool workers run the numeric libraries single-threaded: the pool already fills the cores,
    and torch's and XLA's own thread pools on top of it oversubscribe them (on 2 cores, several
    times slower). Set before a unit first imports torch or JAX; a user's own settings win. Ray
    does the same for its workers (OMP_NUM_THREADS=1)."""
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    os.environ.setdefault(
        "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )


def _run_pool(spec, store, batches, workers, tick, finished) -> None:
    # spawn, not fork: JAX and torch are not fork-safe once initialised.
    context = get_context("spawn")
    ticks = context.Queue()  # handed over at spawn: no manager process to outlive us
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(os.getpid(), ticks)
    )
    try:
        futures = {
            pool.submit(_pool_units, spec.to_json(), units, str(store.directory))
            for units in batches
        }
        while futures:
            done, futures = wait(futures, timeout=0.2, return_when=FIRST_COMPLETED)
            _drain(ticks, tick)
            for future in done:
                finished(future.result())
    except Exception:  # a run failed: keep the runs in progress, start no more
        try:
            pool.shutdown(wait=True, cancel_futures=True)
        except BaseException:
            _stop_workers(pool)
            raise
        raise
    except BaseException:  # interrupted: stop now
        _stop_workers(pool)
        raise
    else:
        pool.shutdown()
        _drain(ticks, tick)  # a worker's queue writes are asynchronous: the last come at its exit
    finally:
        ticks.close()
        ticks.join_thread()


def _init_worker(parent: int, ticks) -> None:
    """Initialise a pool worker: one thread per library, progress queue, die with the parent."""
    global _ticks
    _ticks = ticks
    _one_thread_each()
    # Ctrl-C reaches the whole process group; the parent alone decides, and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """End this process when ``parent`` dies, even by SIGKILL (which runs no clean-up there)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            pr_set_pdeathsig = 1
            libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # died before prctl took effect: we were already re-parented
        os._exit(1)

    def watch() -> None:  # the portable fallback, and a second guard on Linux
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="aif-offload-parent-watch", daemon=True).start()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now, instead of waiting for their runs.

    ``ProcessPoolExecutor.terminate_workers`` does this from Python 3.14 on; before, the workers
    are only reachable through ``_processes``.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    if hasattr(pool, "terminate_workers"):
        pool.terminate_workers()
    else:
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(ProcessLookupError, ValueError):
                process.terminate()
    deadline = time.monotonic() + WORKER_STOP_GRACE_S
    for process in processes:
        with contextlib.suppress(ValueError):  # already closed
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(1.0)


def _drain(ticks, tick) -> None:
    while True:
        try:
            ticks.get_nowait()
        except queue.Empty:
            return
        tick()


def _run_ray(spec, store, batches, workers, address, tick, finished) -> None:
    try:
        import ray
    except ImportError:
        raise ValueError(
            "--executor ray: Ray is not installed; pip install 'aif-offload[ray]'"
        ) from None
    started = not ray.is_initialized()
    if started:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(
                num_cpus=workers or os.cpu_count(), include_dashboard=False, log_to_driver=False
            )
    futures = []
    try:
        remote = ray.remote(execute_units)
        futures = [remote.remote(spec.to_json(), units, str(store.directory)) for units in batches]
        while futures:
            done, futures = ray.wait(futures, num_returns=1, timeout=0.5)
            for ref in done:
                units = ray.get(ref)
                for _ in range(len(units) * (spec.episodes + spec.eval_episodes)):
                    tick()
                finished(units)
            if not done:
                time.sleep(0.05)
    except BaseException:
        # On a cluster we joined, tasks could outlive this driver: stop them first.
        for ref in futures:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
