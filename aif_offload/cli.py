"""The ``aif-offload`` command.

Bad input (unknown agent or scenario, invalid values, malformed files, unwritable output) ends with
one line on stderr and exit code 2, before anything is written. Runs are resumable: re-running a
command with the same ``--out`` skips the runs already finished there. SIGINT (Ctrl-C) and SIGTERM
stop the workers, keep the finished runs, print one line and exit with 130 and 143.
"""

from __future__ import annotations

import contextlib
import shlex
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
import xarray as xr
from rich.console import Console
from rich.table import Table
from typer.exceptions import TyperException

from aif_offload import __version__
from aif_offload.agents import agent_info, agent_names, resolve_agents
from aif_offload.diagnostics.comparison import per_seed, sweep_dim
from aif_offload.diagnostics.statistics import bootstrap_ci
from aif_offload.experiment.executors import EXECUTORS, run_experiment
from aif_offload.experiment.results import check_writable
from aif_offload.experiment.spec import (
    EXPERIMENTS,
    ExperimentSpec,
    learning_agents,
    named_experiment,
)
from aif_offload.experiment.store import RunStore
from aif_offload.scenarios import (
    DEFAULT_SCENARIO,
    ScenarioError,
    available,
    load_scenario,
    scenario_toml,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="LLM inference offloading in cloud-edge computing: active inference vs deep RL vs rules.",
)
console = Console(stderr=True)


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"aif-offload {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """LLM inference offloading in cloud-edge computing: active inference vs deep RL vs rules."""


# The main job: the paper's comparison on the embedded scenario, sized for ~10 min on 2 cores.
DEFAULT_COMPARISON = "aif-pymdp,aif-pyro,aif-ensemble,rainbow-dqn,ppo,sac,greedy,random,oracle"
DEFAULT_SIZE = {"seeds": 8, "episodes": 15, "eval_episodes": 3}
QUICK_SIZE = {"seeds": 3, "episodes": 3, "eval_episodes": 2}  # a smoke run, ~2 min

ScenarioOpt = Annotated[
    str, typer.Option("--scenario", "-s", help="Embedded scenario name or path to a TOML file.")
]
TMaxOpt = Annotated[
    float | None, typer.Option("--t-max", help="Override the deadline t_max (seconds).")
]
LoadOpt = Annotated[
    float | None,
    typer.Option("--load", help="Override the load (percent; 100 = the paper's training load)."),
]
EpisodesOpt = Annotated[
    int, typer.Option("--episodes", "-e", help="Training episodes per seed (the learning curve).")
]
EvalOpt = Annotated[
    int,
    typer.Option(
        "--eval-episodes", help="Evaluation episodes per seed, frozen agent, held-out workloads."
    ),
]
SeedsOpt = Annotated[
    int, typer.Option("--seeds", help="Number of seeds: first-seed, first-seed+1, ...")
]
FirstSeedOpt = Annotated[int, typer.Option("--first-seed", help="First seed.")]
ExecutorOpt = Annotated[
    str, typer.Option("--executor", help="local (process pool, default) or ray.")
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="Parallel runs (default: the number of cores).")
]
AddressOpt = Annotated[
    str | None,
    typer.Option("--address", help="Address of an existing Ray cluster (with --executor ray)."),
]
TaskRecordsOpt = Annotated[
    bool,
    typer.Option(
        "--task-records",
        help="Also write every task's record (runs/AGENT/seed=N.tasks.nc, a netCDF table).",
    ),
]
ReportOpt = Annotated[
    bool,
    typer.Option("--report/--no-report", help="Build DIR/report.html from the results at the end."),
]


class UsageFailure(Exception):
    """Bad input: reported as one line, exit code 2."""


# Beyond these a run is a typo, not an experiment (and a range of 10**12 seeds never ends).
MAX_SEEDS = 100_000
MAX_EPISODES = 1_000_000
MAX_SEED = 2**63 - 1


class Interrupted(Exception):
    """An experiment stopped by SIGINT or SIGTERM: one line, exit code 128 + the signal."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


_received: list[int] = []  # the signal that interrupted this command, if any


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """SIGTERM and SIGINT raise KeyboardInterrupt in the main thread, once: a second signal while
    the workers are being stopped is ignored, so that clean-up is not itself interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame) -> None:
        _received.append(signum)
        for name in (signal.SIGINT, signal.SIGTERM):
            signal.signal(name, signal.SIG_IGN)
        raise KeyboardInterrupt

    previous = {name: signal.getsignal(name) for name in (signal.SIGINT, signal.SIGTERM)}
    _received.clear()
    for name in previous:
        signal.signal(name, interrupt)
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(name, handler)


def _parse_agents(
    text: str, option: str = "--agents"
) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """Agent names and the (name, spec) of those a worker must import or load by path."""
    specs = [a.strip() for a in text.split(",") if a.strip()]
    if not specs:
        raise UsageFailure(f"{option}: give at least one agent")
    try:
        infos = resolve_agents(specs)
    except ValueError as err:
        raise UsageFailure(f"{option}: {str(err).removeprefix('agent: ')}") from None
    names = tuple(info.name for info in infos)
    return names, tuple((i.name, i.source) for i in infos if i.source != i.name)


def _in_range(option: str, value: int | None, low: int, high: int) -> None:
    if value is not None and value < low:
        raise UsageFailure(f"{option}: must be >= {low}, got {value}")
    if value is not None and value > high:
        raise UsageFailure(f"{option}: must be <= {high}, got {value}")


def _seeds(first: int, count: int, option: str = "--first-seed") -> tuple[int, ...]:
    _in_range("--seeds", count, 1, MAX_SEEDS)
    _in_range(option, first, 0, MAX_SEED - count)
    return tuple(range(first, first + count))


def _sizes(episodes: int, eval_episodes: int) -> None:
    _in_range("--episodes", episodes, 1, MAX_EPISODES)
    _in_range("--eval-episodes", eval_episodes, 0, MAX_EPISODES)


def _executor(executor: str, workers: int | None, address: str | None) -> None:
    if executor not in EXECUTORS:
        raise UsageFailure(
            f"--executor: unknown executor '{executor}', allowed: {', '.join(EXECUTORS)}"
        )
    _in_range("--workers", workers, 1, 4096)
    if address is not None and executor != "ray":
        raise UsageFailure("--address: only with --executor ray")
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageFailure(
                "--executor ray: Ray is not installed; pip install 'aif-offload[ray]'"
            ) from None


def _scenario(name: str, t_max: float | None = None, load: float | None = None):
    """The resolved scenario; an error names the option whose value is at fault."""
    for option, overrides in (
        ("--scenario", {}),
        ("--t-max", {"t_max_s": t_max}),
        ("--load", {"load_percent": load}),
    ):
        if None in overrides.values():
            continue
        try:
            load_scenario(name, **overrides)
        except ScenarioError as err:
            raise UsageFailure(f"{option}: {err}") from None
    return load_scenario(name, t_max_s=t_max, load_percent=load)


def _parse_values(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise UsageFailure(f"--values: give comma-separated numbers, got '{text}'") from None
    if not values:
        raise UsageFailure("--values: give at least one value")
    return values


def summary_table(data: xr.Dataset, title: str) -> Table:
    """Mean and 95 % bootstrap interval over seeds of the headline metrics, from a results file."""
    sweep = sweep_dim(data)
    table = Table(title=title)
    columns = ("agent", *([sweep] if sweep else []), "completion", "latency (s)", "pass@100")
    for column in (*columns, "utility", "sum reward"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    keys = ("completion_rate", "mean_latency_s", "mean_accuracy", "utility", "sum_reward")
    values = data[sweep].values if sweep else [None]
    for agent in data.agent.values:
        for value in values:
            where = {"agent": agent} | ({sweep: value} if sweep else {})
            cells = [str(bootstrap_ci(per_seed(data, k).sel(where).values)) for k in keys]
            table.add_row(str(agent), *([f"{value:g}"] if sweep else []), *cells)
    return table


def _build_report(directory: Path) -> None:
    """Build DIR/report.html; a failure is one line on stderr and exit 1 (the results stay)."""
    try:
        from aif_offload.report import build_report  # matplotlib: only when a report is wanted

        path = build_report(directory)
    except Exception as err:  # the results are saved; the report must not hide that
        reason = " ".join(str(err).split()) or type(err).__name__
        print(
            f"aif-offload: error: report: could not build {directory / 'report.html'} "
            f"({reason}); the results are saved, retry with `aif-offload report {directory}`",
            file=sys.stderr,
        )
        raise typer.Exit(1) from None
    console.print(f"wrote {path}", soft_wrap=True)


def _execute(
    spec: ExperimentSpec,
    out: Path,
    executor: str,
    workers: int | None,
    address: str | None,
    *,
    report: bool = True,
) -> None:
    try:
        check_writable(out)
    except ValueError as err:
        raise UsageFailure(str(err)) from None
    command = shlex.join(["aif-offload", *sys.argv[1:]])
    try:
        path = run_experiment(
            spec,
            out,
            executor=executor,
            workers=workers,
            address=address,
            command=command,
            console=console,
        )
    except KeyboardInterrupt:
        total = len(spec.units())
        finished = total - len(RunStore(out, spec).pending())
        raise Interrupted(
            f"interrupted: {finished} of {total} runs finished in {out}, "
            "re-run the same command to resume",
            _received[0] if _received else signal.SIGINT,
        ) from None
    with xr.open_dataset(path, engine="h5netcdf") as data:
        phase = "evaluation" if spec.eval_episodes else "training"
        scenario = spec.base_scenario()
        title = (
            f"{spec.name} on {scenario.name}: t_max {scenario.episode.t_max_s:g} s, load "
            f"{scenario.episode.load_percent:g} %, {len(spec.seeds)} seeds, {spec.episodes} training + "
            f"{spec.eval_episodes} evaluation episodes; {phase} mean [95 % bootstrap CI over seeds]"
        )
        Console(width=220).print(summary_table(data.load(), title))
    console.print(f"wrote {path}")
    if report:
        if spec.name == "compare":
            _check_pyro_posterior(out, spec)
        _build_report(out)


def _check_pyro_posterior(directory: Path, spec: ExperimentSpec) -> None:
    """The main job's posterior diagnostics: NUTS on aif-pyro's first seed (about 40 s), next to
    its belief file, for the report. Skipped if already there (a resumed run) or on failure, which
    is one line: the results and the rest of the report do not depend on it."""
    beliefs = directory / "runs" / "aif-pyro" / f"seed={spec.seeds[0]}.beliefs.nc"
    if not beliefs.exists():
        return
    from aif_offload.diagnostics.posterior import nuts_check, nuts_path

    if nuts_path(beliefs).exists():
        return
    console.print(f"NUTS posterior check of {beliefs.name} (aif-pyro, about 40 s)")
    try:
        with warnings.catch_warnings():  # Pyro's JIT ELBO still calls the deprecated jit.trace
            warnings.filterwarnings("ignore", "`torch.jit.trace` is deprecated", DeprecationWarning)
            written = nuts_check(beliefs)
        console.print(f"wrote {written}", soft_wrap=True)
    except Exception as err:  # diagnostics only: say so and go on with the report
        reason = " ".join(str(err).split()) or type(err).__name__
        print(f"aif-offload: warning: NUTS check of {beliefs} failed ({reason})", file=sys.stderr)


@app.command()
def scenarios(
    show: Annotated[str | None, typer.Option("--show", help="Print this scenario's TOML.")] = None,
) -> None:
    """List the embedded scenarios, or print one to copy and edit."""
    if show is not None:
        try:
            text = scenario_toml(show)
        except ScenarioError as err:
            raise UsageFailure(f"--show: {err}") from None
        typer.echo(text, nl=False)
        return
    for name in available():
        typer.echo(f"{name:12s} {load_scenario(name).description}")


@app.command()
def agents() -> None:
    """List the available agents: name, family, summary (installed plug-ins included).

    Your own agent runs without being listed: --agents module:Class or path/to/file.py:Class.
    """
    for name in agent_names():
        try:
            info = agent_info(name)
            typer.echo(f"{name:14s} {info.family:17s} {info.summary}")
        except ValueError as err:  # a broken plug-in must not hide the others
            typer.echo(f"{name:14s} {'?':17s} ({err})")


@app.command()
def run(
    agent: Annotated[
        str,
        typer.Option(
            "--agent",
            "-a",
            help="Agent name (see `aif-offload agents`), module:Class or path/to/file.py:Class.",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for results.nc.")],
    scenario: ScenarioOpt = DEFAULT_SCENARIO,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the environment and the agent.")] = 0,
    episodes: EpisodesOpt = 10,
    eval_episodes: EvalOpt = 0,
    t_max: TMaxOpt = None,
    load: LoadOpt = None,
    task_records: TaskRecordsOpt = False,
) -> None:
    """Run one agent on one seed and write DIR/results.nc."""
    names, sources = _parse_agents(agent, "--agent")
    seeds = _seeds(seed, 1, "--seed")
    _sizes(episodes, eval_episodes)
    resolved = _scenario(scenario, t_max, load)
    spec = ExperimentSpec(
        "run",
        names,
        resolved.model_dump_json(),
        seeds,
        episodes,
        eval_episodes,
        sources=sources,
        task_records=task_records,
    )
    _execute(spec, out, "local", 1, None)


@app.command()
def compare(
    agents: Annotated[
        str,
        typer.Option(
            "--agents",
            help="Comma-separated agents: names (see `aif-offload agents`), module:Class or "
            f"path/to/file.py:Class. Default: {DEFAULT_COMPARISON.replace(',', ', ')}.",
            show_default=False,
        ),
    ] = DEFAULT_COMPARISON,
    scenario: ScenarioOpt = DEFAULT_SCENARIO,
    seeds: Annotated[
        int | None,
        typer.Option("--seeds", help=f"Number of seeds (default {DEFAULT_SIZE['seeds']})."),
    ] = None,
    first_seed: FirstSeedOpt = 0,
    episodes: Annotated[
        int | None,
        typer.Option(
            "--episodes",
            "-e",
            help=f"Training episodes per seed (default {DEFAULT_SIZE['episodes']}).",
        ),
    ] = None,
    eval_episodes: Annotated[
        int | None,
        typer.Option(
            "--eval-episodes",
            help=f"Evaluation episodes per seed (default {DEFAULT_SIZE['eval_episodes']}).",
        ),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help=f"Smoke-sized run (~2 min): {QUICK_SIZE['seeds']} seeds, "
            f"{QUICK_SIZE['episodes']} + {QUICK_SIZE['eval_episodes']} episodes.",
        ),
    ] = False,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for results.nc.")] = Path(
        "aif-offload-results/compare"
    ),
    t_max: TMaxOpt = None,
    load: LoadOpt = None,
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = None,
    address: AddressOpt = None,
    report: ReportOpt = True,
    task_records: TaskRecordsOpt = False,
) -> None:
    """Run several agents on the same seeds; print means with 95 % bootstrap intervals over seeds.

    With no arguments: the paper's comparison (active inference, deep RL, rules, oracle) on the
    embedded ``paper`` scenario. Explicit sizes override ``--quick``.
    """
    names, sources = _parse_agents(agents)
    size = QUICK_SIZE if quick else DEFAULT_SIZE
    episodes = size["episodes"] if episodes is None else episodes
    eval_episodes = size["eval_episodes"] if eval_episodes is None else eval_episodes
    seed_list = _seeds(first_seed, size["seeds"] if seeds is None else seeds)
    _sizes(episodes, eval_episodes)
    _executor(executor, workers, address)
    resolved = _scenario(scenario, t_max, load)
    spec = ExperimentSpec(
        "compare",
        names,
        resolved.model_dump_json(),
        seed_list,
        episodes,
        eval_episodes,
        sources=sources,
        task_records=task_records,
    )
    _execute(spec, out, executor, workers, address, report=report)


@app.command()
def experiment(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(EXPERIMENTS)}.")],
    agents: Annotated[
        str | None,
        typer.Option(
            "--agents",
            help="Comma-separated agents: names, module:Class or path/to/file.py:Class "
            "(default: every listed agent; for learning, each active-inference agent under "
            "each prior it takes, every deep-RL agent, the rules and the oracle).",
        ),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            "-s",
            help="Embedded scenario name or path to a TOML file (default: paper; for "
            "learning, paper-hidden).",
        ),
    ] = None,
    seeds: SeedsOpt = 10,
    first_seed: FirstSeedOpt = 0,
    episodes: EpisodesOpt = 20,
    eval_episodes: EvalOpt = 5,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Directory (default: aif-offload-results/NAME)."),
    ] = None,
    values: Annotated[
        str | None,
        typer.Option(
            "--values",
            help="Comma-separated values of the swept parameter for deadline (t_max s) and "
            "load (%), e.g. a subset (default: the paper's: 1..15 s; 100,125,150,175,200 %); "
            "for sweep, the values of --field.",
        ),
    ] = None,
    field: Annotated[
        str | None,
        typer.Option(
            "--field",
            help="For the sweep experiment: the numeric scenario field to sweep, by dotted path "
            "(episode.mean_interarrival_s, servers.edge-1.num_gpus, hidden.service.speed_sigma).",
        ),
    ] = None,
    shift: Annotated[
        str | None,
        typer.Option(
            "--shift",
            help="For adaptation: what changes half-way through training: tenant-surge (other "
            "tenants take all but one GPU of the first edge, default) or load (100 -> 180 %).",
        ),
    ] = None,
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = None,
    address: AddressOpt = None,
    report: ReportOpt = True,
    task_records: TaskRecordsOpt = False,
) -> None:
    """The paper's experiments: training (Fig. 3), deadline (Fig. 4), load (Fig. 5), adaptation;
    and sweep, of any numeric scenario field (--field PATH --values V1,V2)."""
    if name not in EXPERIMENTS:
        raise UsageFailure(f"NAME: unknown experiment '{name}', allowed: {', '.join(EXPERIMENTS)}")
    if agents is None:
        agents = ",".join(learning_agents() if name == "learning" else agent_names())
    names, sources = _parse_agents(agents)
    seed_list = _seeds(first_seed, seeds)
    _sizes(episodes, eval_episodes)
    _executor(executor, workers, address)
    parsed = _parse_values(values)
    if scenario is None:  # not given ('' is given, and refused by _scenario)
        scenario = EXPERIMENTS[name].get("scenario", DEFAULT_SCENARIO)
    base = _scenario(scenario)
    try:
        spec = named_experiment(
            name,
            agents=names,
            scenario=base,
            seeds=seed_list,
            episodes=episodes,
            eval_episodes=eval_episodes,
            values=parsed,
            sources=sources,
            field=field,
            task_records=task_records,
            shift=shift,
        )
    except ValueError as err:
        message = str(err)
        if message.startswith("shift:"):
            raise UsageFailure(f"--shift: {message.split(': ', 1)[1]}") from None
        for option in ("field", "sweep"):
            if message.startswith(f"{option}:"):
                raise UsageFailure(f"--field: {message.split(': ', 1)[1]}") from None
        if message.startswith("schedule:"):  # the load step of adaptation falls in training
            raise UsageFailure(
                f"--episodes: {name} needs at least 2 training episodes, got {episodes}"
            ) from None
        raise UsageFailure(f"--values: {message.removeprefix('values: ')}") from None
    directory = out or Path("aif-offload-results") / name
    _execute(spec, directory, executor, workers, address, report=report)


@app.command()
def report(
    directory: Annotated[
        Path,
        typer.Argument(
            help="An experiment directory (with results.nc) or a parent of several, e.g. "
            "aif-offload-results."
        ),
    ],
) -> None:
    """Write DIR/report.html: tables, figures, beliefs, posterior checks, paper vs ours."""
    from aif_offload.report import build_report  # matplotlib: only when a report is wanted

    console.print(f"wrote {build_report(directory)}", soft_wrap=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: turns every input error into one line on stderr and exit code 2."""
    try:
        with _interruptible():
            code = app(args=argv, standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except Interrupted as stop:
        print(f"aif-offload: {stop}", file=sys.stderr)
        return stop.exit_code
    except typer.Abort:  # Click's form of KeyboardInterrupt outside an experiment
        print("aif-offload: aborted", file=sys.stderr)
        return 128 + (_received[0] if _received else signal.SIGINT)
    except TyperException as err:  # usage errors of the command line itself
        if err.format_message():  # (no arguments at all: help was printed, nothing to add)
            print(f"aif-offload: error: {err.format_message()}", file=sys.stderr)
        return 2
    except (UsageFailure, ValueError) as err:
        print(f"aif-offload: error: {err}", file=sys.stderr)
        return 2
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
