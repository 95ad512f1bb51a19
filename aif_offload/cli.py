"""The ``aif-offload`` command.

Bad input (unknown agent or scenario, invalid values, malformed files, unwritable output) ends with
one line on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from typer.exceptions import TyperException

from aif_offload.agents import agent_class, agent_names, agent_summary
from aif_offload.diagnostics.statistics import bootstrap_ci
from aif_offload.experiment.results import RESULTS_FILE, check_writable, provenance, to_dataset
from aif_offload.experiment.runner import RunResult, run_agent
from aif_offload.experiment.storage import write_atomic
from aif_offload.scenarios import DEFAULT_SCENARIO, available, load_scenario, scenario_toml

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="LLM inference offloading in cloud-edge computing: active inference vs deep RL vs rules.",
)
console = Console(stderr=True)

RULES_AND_ORACLE = "random,round-robin,cloud-only,edge-only,greedy,oracle"

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
EpisodesOpt = Annotated[int, typer.Option("--episodes", "-e", help="Episodes per seed.")]


class UsageFailure(Exception):
    """Bad input: reported as one line, exit code 2."""


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


def _parse_agents(text: str) -> list[str]:
    names = [a.strip() for a in text.split(",") if a.strip()]
    if not names:
        raise UsageFailure("--agents: give at least one agent name")
    for name in names:
        agent_class(name)  # raises ValueError naming the allowed agents
    if len(set(names)) != len(names):
        raise UsageFailure(f"--agents: names must be distinct, got {text}")
    return names


def _seeds(first: int, count: int) -> list[int]:
    if count < 1:
        raise UsageFailure(f"--seeds: must be >= 1, got {count}")
    return list(range(first, first + count))


def _run_all(
    agents: list[str], scenario, seeds: list[int], episodes: int, staging: Path
) -> list[RunResult]:
    if episodes < 1:
        raise UsageFailure(f"--episodes: must be >= 1, got {episodes}")
    runs: list[RunResult] = []
    steps_per_agent = episodes * scenario.episode.num_tasks
    with _progress() as progress:
        overall = progress.add_task("agents", total=len(agents))
        for name in agents:
            current = progress.add_task(f"  {name} ({len(seeds)} seeds)", total=steps_per_agent)
            runs += run_agent(
                name,
                scenario,
                seeds,
                episodes,
                on_step=lambda t=current: progress.advance(t),
                beliefs_path=staging / f"{name}.nc",
            )
            progress.remove_task(current)
            progress.advance(overall)
    return runs


def _save(runs: list[RunResult], scenario, out: Path, staging: Path) -> Path:
    """Move staged belief files into ``out/beliefs/`` and write ``out/results.nc``, last."""
    agents_json = {r.agent: {"summary": agent_summary(r.agent)} for r in runs}
    command = shlex.join(["aif-offload", *sys.argv[1:]])
    dataset = to_dataset(runs, provenance(scenario, agents_json, command))
    staged = sorted(staging.glob("*.nc"))
    if staged:
        (out / "beliefs").mkdir(parents=True, exist_ok=True)
        for file in staged:
            shutil.move(str(file), out / "beliefs" / file.name)
    path = out / RESULTS_FILE
    write_atomic(dataset, path)
    return path


def _execute(
    names: list[str], scenario, seeds: list[int], episodes: int, out: Path, title: str
) -> None:
    """Run every agent, then save; nothing reaches ``out`` unless every run finished."""
    check_writable(out)
    with tempfile.TemporaryDirectory(prefix="aif-offload-") as staging:
        runs = _run_all(names, scenario, seeds, episodes, Path(staging))
        path = _save(runs, scenario, out, Path(staging))
    Console(width=200).print(_summary_table(runs, title))
    console.print(f"wrote {path}")


def _summary_table(runs: list[RunResult], title: str) -> Table:
    table = Table(title=title)
    for column in ("agent", "completion", "latency (s)", "pass@100", "utility", "sum reward"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    keys = ("completion_rate", "mean_latency_s", "mean_accuracy", "utility", "sum_reward")
    for name in dict.fromkeys(r.agent for r in runs):
        mine = [r for r in runs if r.agent == name]
        cells = []
        for key in keys:
            per_seed = np.array(
                [
                    np.nanmean(r.metrics[key]) if np.isfinite(r.metrics[key]).any() else np.nan
                    for r in mine
                ]
            )
            cells.append(str(bootstrap_ci(per_seed)))
        table.add_row(name, *cells)
    return table


@app.command()
def scenarios(
    show: Annotated[str | None, typer.Option("--show", help="Print this scenario's TOML.")] = None,
) -> None:
    """List the embedded scenarios, or print one to copy and edit."""
    if show is not None:
        typer.echo(scenario_toml(show), nl=False)
        return
    for name in available():
        scenario = load_scenario(name)
        typer.echo(f"{name:12s} {scenario.description}")


@app.command()
def agents() -> None:
    """List the available agents."""
    for name in agent_names():
        typer.echo(f"{name:12s} {agent_summary(name)}")


@app.command()
def run(
    agent: Annotated[
        str, typer.Option("--agent", "-a", help="Agent name (see `aif-offload agents`).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for results.nc.")],
    scenario: ScenarioOpt = DEFAULT_SCENARIO,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the environment and the agent.")] = 0,
    episodes: EpisodesOpt = 10,
    t_max: TMaxOpt = None,
    load: LoadOpt = None,
) -> None:
    """Run one agent on one seed and write DIR/results.nc."""
    names = _parse_agents(agent)
    resolved = load_scenario(scenario, t_max_s=t_max, load_percent=load)
    _execute(
        names, resolved, [seed], episodes, out, f"{resolved.name}: seed {seed}, {episodes} episodes"
    )


@app.command()
def compare(
    agents: Annotated[
        str, typer.Option("--agents", help="Comma-separated agent names.")
    ] = RULES_AND_ORACLE,
    scenario: ScenarioOpt = DEFAULT_SCENARIO,
    seeds: Annotated[
        int, typer.Option("--seeds", help="Number of seeds (0, 1, ..., N-1 + --first-seed).")
    ] = 10,
    first_seed: Annotated[int, typer.Option("--first-seed", help="First seed.")] = 0,
    episodes: EpisodesOpt = 5,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for results.nc.")] = Path(
        "aif-offload-results/compare"
    ),
    t_max: TMaxOpt = None,
    load: LoadOpt = None,
) -> None:
    """Run several agents on the same seeds; print means with 95 % bootstrap intervals over seeds."""
    names = _parse_agents(agents)
    seed_list = _seeds(first_seed, seeds)
    resolved = load_scenario(scenario, t_max_s=t_max, load_percent=load)
    title = (
        f"{resolved.name}: t_max {resolved.episode.t_max_s:g} s, load {resolved.episode.load_percent:g} %, "
        f"{len(seed_list)} seeds x {episodes} episodes; mean [95 % bootstrap CI over seeds]"
    )
    _execute(names, resolved, seed_list, episodes, out, title)


def main(argv: list[str] | None = None) -> int:
    """Entry point: turns every input error into one line on stderr and exit code 2."""
    try:
        code = app(args=argv, standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except typer.Abort:
        print("aif-offload: aborted", file=sys.stderr)
        return 130
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
