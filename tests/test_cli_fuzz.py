"""The command line on random argument lists: exit 0 or 2, never a traceback; on exit 2 one line
on stderr and nothing written.

Every example runs ``cli.main`` in this process, in a fresh empty working directory with its own
``--out`` paths. The experiment itself is replaced by a stand-in that writes a tiny results file
(the command's validation, the table it prints and its errors are real; running agents is tested
elsewhere), so no example runs for more than a few milliseconds.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from aif_offload import cli
from aif_offload.experiment.results import RESULTS_FILE, provenance, to_dataset
from aif_offload.experiment.runner import run_agent
from aif_offload.experiment.storage import write_atomic
from aif_offload.scenarios import load_scenario

MAX_EXAMPLES = 300
USER_FILE = Path(__file__).parent / "agents" / "user_agents" / "my_agent.py"

JUNK = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x00"),
    max_size=12,
)
INTS = st.one_of(
    st.sampled_from(["1", "0", "-1", "2", "1e3", "x", "", "9" * 30, str(2**63), "1.5"]),
    st.integers(-(2**64), 2**64).map(str),
)
FLOATS = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "0", "-1", "10", "150", "1e400", "x", ""]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
AGENT_LISTS = st.sampled_from(
    [
        "greedy",
        "random,oracle",
        "ppo,aif-pyro",
        "nobody",
        "greedy,greedy",
        "greedy@x=1",
        "",
        ",",
        "x:y",
        "aif_offload.agents.rules:GreedyAgent",
        "aif_offload.agents.rules:Nope",
        "missing.py:A",
        f"{USER_FILE}:MyAgent",
        f"{USER_FILE}:MyAgent@share=0.5",
        f"{USER_FILE}:MyAgent@share=x",
        f"{USER_FILE}:MyAgent,greedy",
    ]
)
SCENARIOS = st.sampled_from(
    ["paper", "azure-conv", "nope", "", "/", "/etc/passwd", "/proc/self/status", "a.toml", "..."]
)
VALUES = st.sampled_from(["5,10", "0", "-1", "x", "", ",", "nan", "1e9", "150,175", "12"])
EXECUTORS = st.sampled_from(["local", "ray", "dask", ""])


def _out(cwd: Path) -> st.SearchStrategy[str]:
    return st.sampled_from(
        [
            str(cwd / "out"),
            str(cwd / "a" / "b"),
            "/proc/x",
            "/proc/self/x/y",
            str(cwd / "file"),
            "",
            "out2",
            "-",
        ]
    )


def _options(cwd: Path) -> dict[str, st.SearchStrategy[str] | None]:
    """Every option the subcommands know, with values both valid and not (None: a flag)."""
    return {
        "--agents": AGENT_LISTS,
        "--agent": AGENT_LISTS,
        "-a": AGENT_LISTS,
        "--scenario": SCENARIOS,
        "-s": SCENARIOS,
        "--seeds": INTS,
        "--first-seed": INTS,
        "--seed": INTS,
        "--episodes": INTS,
        "-e": INTS,
        "--eval-episodes": INTS,
        "--t-max": FLOATS,
        "--load": FLOATS,
        "--out": _out(cwd),
        "-o": _out(cwd),
        "--values": VALUES,
        "--executor": EXECUTORS,
        "--workers": INTS,
        "--address": st.sampled_from(["localhost:1", ""]),
        "--show": SCENARIOS,
        "--quick": None,
        "--report": None,
        "--no-report": None,
        "--help": None,
        "--version": None,
    }


COMMANDS = ["run", "compare", "experiment", "scenarios", "agents", "report"]
EXPERIMENT_NAMES = ["training", "deadline", "load", "adaptation", "nope"]


@st.composite
def junk_lists(draw, cwd: Path) -> list[str]:
    """Anything: commands, options of any command, values of any kind, junk tokens."""
    options = _options(cwd)
    argv: list[str] = []
    if draw(st.integers(0, 9)) == 0:  # options before the command
        argv.append(draw(st.sampled_from(["--version", "--help", "--nope"])))
    command = draw(st.one_of(st.sampled_from(COMMANDS), JUNK))
    argv.append(command)
    if command == "experiment" and draw(st.booleans()):
        argv.append(draw(st.one_of(st.sampled_from(EXPERIMENT_NAMES), JUNK)))
    if command == "report" and draw(st.booleans()):
        argv.append(draw(st.sampled_from([str(cwd), str(cwd / "none"), "/proc", "/", ""])))
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 9)) == 0:
            argv.append(draw(JUNK))
            continue
        name = draw(st.sampled_from(sorted(options)))
        argv.append(name)
        values = options[name]
        if values is not None and draw(st.integers(0, 14)):  # sometimes the value is missing
            argv.append(draw(values))
    if command in ("run", "compare", "experiment") and draw(st.integers(0, 3)):
        argv += ["--seeds", "1", "--episodes", "1"] if command != "run" else ["--episodes", "1"]
    return argv


def _valid(cwd: Path) -> dict[str, list[str]]:
    return {
        "--agents": ["greedy", "random,oracle", "ppo,aif-pyro", f"{USER_FILE}:MyAgent,greedy"],
        "--agent": ["greedy", f"{USER_FILE}:MyAgent@share=0.5"],
        "--scenario": ["paper", "azure-conv"],
        "--seeds": ["1", "2"],
        "--first-seed": ["0", "7"],
        "--seed": ["0", "3"],
        "--episodes": ["2"],
        "--eval-episodes": ["0", "1"],
        "--t-max": ["10", "15.5"],
        "--load": ["100", "150"],
        "--out": [str(cwd / "out"), "out", str(cwd / "a" / "b")],
        "--values": ["10", "10,12"],
        "--executor": ["local"],
        "--workers": ["1", "2"],
        "--show": ["paper", "azure-code"],
    }


def _invalid(cwd: Path) -> dict[str, list[str]]:
    return {
        "--agents": [
            "nobody",
            "greedy,greedy",
            "greedy@x=1",
            "",
            ",",
            "x:y",
            "missing.py:A",
            f"{USER_FILE}:MyAgent@share=x",
            "aif_offload.agents.rules:Nope",
        ],
        "--agent": ["nobody", "", "random,random"],
        "--scenario": ["nope", "", "/", "/etc/passwd", "a.toml", str(cwd / "file")],
        "--seeds": ["0", "-1", "x", "", "9" * 30, "1.5"],
        "--first-seed": ["-1", "x", str(2**63)],
        "--seed": ["-1", "x", str(2**63)],
        "--episodes": ["0", "-1", "x", "1e3"],
        "--eval-episodes": ["-1", "x"],
        "--t-max": ["nan", "inf", "0", "-1", "x"],
        "--load": ["nan", "-inf", "0", "-5", "x"],
        "--out": ["/proc/x", "/proc/self/x/y", str(cwd / "file"), str(cwd / "file" / "sub")],
        "--values": ["0", "-1", "x", "", ",", "nan"],
        "--executor": ["dask", ""],
        "--workers": ["0", "-1", "x"],
        "--show": ["nope", "/", ""],
    }


COMMAND_OPTIONS = {
    "run": [
        "--agent",
        "--out",
        "--scenario",
        "--seed",
        "--episodes",
        "--eval-episodes",
        "--t-max",
        "--load",
    ],
    "compare": [
        "--agents",
        "--scenario",
        "--seeds",
        "--first-seed",
        "--episodes",
        "--eval-episodes",
        "--out",
        "--t-max",
        "--load",
        "--executor",
        "--workers",
    ],
    "experiment": [
        "--agents",
        "--scenario",
        "--seeds",
        "--first-seed",
        "--episodes",
        "--eval-episodes",
        "--out",
        "--executor",
        "--workers",
    ],
    "scenarios": ["--show"],
}


@st.composite
def valid_lists(draw, cwd: Path) -> tuple[list[str], str | None]:
    """A valid command line, and maybe one option given a bad value instead: (argv, that option)."""
    valid, invalid = _valid(cwd), _invalid(cwd)
    command = draw(st.sampled_from(sorted(COMMAND_OPTIONS)))
    argv = [command]
    names = list(COMMAND_OPTIONS[command])
    if command == "experiment":
        experiment = draw(st.sampled_from(EXPERIMENT_NAMES[:-1]))
        argv.append(experiment)
        if experiment in ("deadline", "load"):
            names.append("--values")
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
    if command == "run" and "--agent" not in chosen:
        chosen.append("--agent")
    if command != "scenarios":
        chosen += [n for n in ("--seeds", "--episodes", "--out") if n in names and n not in chosen]
    # Mostly one bad value: a valid line runs the (stand-in) experiment and prints its table,
    # which costs about 0.2 s; an error costs milliseconds.
    bad = draw(st.sampled_from(chosen)) if chosen and draw(st.integers(0, 4)) else None
    for name in chosen:
        argv += [name, draw(st.sampled_from(invalid[name] if name == bad else valid[name]))]
    return argv, bad


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory) -> Path:
    """A real results file of one greedy run of one episode, what the stand-in experiment returns."""
    scenario = load_scenario("paper")
    runs = run_agent("greedy", scenario, [0], 1)
    path = tmp_path_factory.mktemp("tiny") / RESULTS_FILE
    write_atomic(to_dataset(runs, provenance(scenario, {}, "")), path)
    return path


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_argument_lists_exit_0_or_2_with_one_line_and_nothing_written(data, tiny_results):
    calls = []

    def stand_in(spec, directory, **_):
        calls.append(spec)
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copy(tiny_results, directory / RESULTS_FILE)
        return directory / RESULTS_FILE

    with (
        tempfile.TemporaryDirectory() as where,
        pytest.MonkeyPatch.context() as patch,
    ):
        cwd = Path(where)
        (cwd / "file").write_text("an existing file, not a directory\n")
        bad: str | None = "?"  # junk: anything may be at fault
        if data.draw(st.booleans(), label="valid command"):
            argv, bad = data.draw(valid_lists(cwd), label="argv, bad option")
        else:
            argv = data.draw(junk_lists(cwd), label="argv")
        patch.chdir(cwd)
        patch.setattr(cli, "run_experiment", stand_in)
        patch.setattr(cli, "_build_report", lambda directory: None)
        patch.setattr(cli, "_check_pyro_posterior", lambda directory, spec: None)
        before = sorted(os.listdir(cwd))
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = cli.main(argv)
        err = stderr.getvalue()
        event(f"exit {code}" + (", ran" if calls else ""))
        assert code in (0, 2), (argv, code, err)
        assert "Traceback" not in err, (argv, err)
        if bad is None:  # a valid command line succeeds (and runs, for an experiment)
            assert code == 0 and (bool(calls) == (argv[0] != "scenarios")), (argv, err)
        if bad not in (None, "?"):  # one bad value: refused, and its option named
            assert code == 2 and bad in err, (argv, code, err)
        if code == 2:
            assert err.count("\n") <= 1, (argv, err)
            assert not calls, (argv, "the experiment started on bad input")
            assert sorted(os.listdir(cwd)) == before, (argv, os.listdir(cwd))
