"""The aif-offload command: listings, run/compare outputs, and one-line errors on bad input."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from aif_offload.agents import AGENTS
from aif_offload.cli import main
from aif_offload.scenarios import available, load_scenario, validate
from aif_offload.sim.outcome import FAILURE_REASONS


def _bad(capsys, argv: list[str], needle: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    assert err.startswith("aif-offload: error:") and needle in err, err
    assert "Traceback" not in err


def test_agents_lists_every_agent(capsys):
    assert main(["agents"]) == 0
    out = capsys.readouterr().out
    for name in AGENTS:
        assert name in out


def test_scenarios_lists_and_shows_copyable_toml(capsys, tmp_path):
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name in available():
        assert name in out
    for name in available():
        assert main(["scenarios", "--show", name]) == 0
        text = capsys.readouterr().out
        copy = tmp_path / f"{name}-copy.toml"
        copy.write_text(text)
        # What --show prints loads back to the very same scenario.
        assert load_scenario(str(copy)) == load_scenario(name)


def test_run_writes_results_with_the_fixed_format(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", "--agent", "greedy", "--episodes", "2", "--seed", "3", "--out", str(out)]
    assert main([*argv, "--t-max", "12", "--load", "120"]) == 0
    data = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    reasons = len(FAILURE_REASONS)
    assert dict(data.sizes) == {"agent": 1, "seed": 1, "episode": 2, "failure_reason": reasons}
    for var in (
        "completion_rate",
        "mean_latency_s",
        "mean_accuracy",
        "sum_reward",
        "utility",
        "env_steps",
    ):
        assert data[var].dims == ("agent", "seed", "episode")
    assert data.seed.values.tolist() == [3]
    assert data.env_steps.values.ravel().tolist() == [120, 240]
    scenario = validate(__import__("json").loads(data.attrs["scenario_json"]))
    assert scenario.episode.t_max_s == 12 and scenario.episode.load_percent == 120
    for key in ("package_version", "git_commit", "created_utc", "command", "agents_json"):
        assert data.attrs[key]
    # Every task is accounted for exactly once.
    assert (data.failure_count.sum("failure_reason") == data.tasks).all()
    assert not list(out.glob("runs/**/*.tasks.nc"))  # task records only when asked for


def test_task_records_option_writes_a_table_per_run(tmp_path, capsys):
    from aif_offload.diagnostics.task_records import load_task_records

    out = tmp_path / "run"
    argv = ["run", "--agent", "greedy", "--episodes", "1", "--eval-episodes", "1"]
    assert main([*argv, "--seed", "2", "--out", str(out), "--task-records"]) == 0
    table = load_task_records(out)
    data = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    assert len(table) == int(data.tasks.sum()) + int(data.eval_tasks.sum())
    assert set(table["seed"]) == {2} and set(table["phase"]) == {"train", "eval"}


def test_compare_runs_agents_on_the_same_seeds(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = [
        "compare",
        "--agents",
        "random,oracle",
        "--seeds",
        "2",
        "--episodes",
        "1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "oracle" in printed and "random" in printed
    data = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    assert data.agent.values.tolist() == ["random", "oracle"]
    assert data.seed.values.tolist() == [0, 1]
    assert float(data.completion_rate.sel(agent="oracle").mean()) > float(
        data.completion_rate.sel(agent="random").mean()
    )


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", "--agent", "nobody", "--out", "X"], "agent"),
        (["run", "--agent", "greedy", "--scenario", "nowhere", "--out", "X"], "scenario"),
        (["run", "--agent", "greedy", "--t-max", "-1", "--out", "X"], "episode.t_max_s"),
        (["run", "--agent", "greedy", "--load", "0", "--out", "X"], "episode.load_percent"),
        (["run", "--agent", "greedy", "--episodes", "0", "--out", "X"], "episodes"),
        (["compare", "--seeds", "0", "--out", "X"], "seeds"),
        (["compare", "--agents", ",", "--out", "X"], "agents"),
        (["compare", "--agents", "greedy,greedy", "--out", "X"], "agents"),
        (["compare", "--bogus"], "bogus"),
        (["experiment", "deadline", "--values", "3,abc", "--out", "X"], "--values"),
        (["experiment", "deadline", "--values", "4,4", "--out", "X"], "values"),
        (["experiment", "load", "--values", "0", "--out", "X"], "episode.load_percent"),
        (["experiment", "training", "--values", "10", "--out", "X"], "values"),
        (["scenarios", "--show", "nowhere"], "--show: scenario"),
        # Each names its option, and none writes experiment.json before failing.
        (["compare", "--agents", "greedy", "--first-seed", "-1", "--out", "X"], "--first-seed"),
        (["run", "--agent", "greedy", "--seed", "-1", "--out", "X"], "--seed: must be >= 0"),
        (["run", "--agent", "greedy", "--episodes", "0", "--out", "X"], "--episodes"),
        (["run", "--agent", "greedy", "--eval-episodes", "-1", "--out", "X"], "--eval-episodes"),
        (["run", "--agent", "greedy", "--t-max", "-1", "--out", "X"], "--t-max"),
        (["compare", "--agents", "greedy", "--load", "nan", "--out", "X"], "--load"),
        (["compare", "--agents", "greedy", "--seeds", "99999999999", "--out", "X"], "--seeds"),
        (["compare", "--agents", "greedy", "--workers", "0", "--out", "X"], "--workers"),
        (["compare", "--agents", "greedy", "--executor", "dask", "--out", "X"], "--executor"),
        (["compare", "--agents", "nobody", "--out", "X"], "--agents: unknown agent 'nobody'"),
        (["experiment", "adaptation", "--agents", "greedy", "--episodes", "1"], "--episodes"),
        (["experiment", "nothing"], "NAME: unknown experiment"),
        (["experiment", "adaptation", "--shift", "quake", "--out", "X"], "--shift: unknown shift"),
        (["experiment", "learning", "--scenario", "", "--out", "X"], "--scenario"),
        (["experiment", "load", "--shift", "load", "--out", "X"], "--shift: only the adaptation"),
        (["compare", "--agents", "greedy", "--seeds", "1", "--out", "/proc/x"], "--out"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    argv, needle, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    _bad(capsys, argv, needle)
    assert not any(tmp_path.iterdir())


def test_malformed_and_invalid_scenario_files(capsys, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("name = 'x'\n[episode\n")
    _bad(
        capsys,
        ["run", "--agent", "greedy", "--scenario", str(broken), "--out", str(tmp_path / "o")],
        "malformed TOML",
    )
    text = (Path(__file__).parents[1] / "aif_offload/scenarios/paper.toml").read_text()
    invalid = tmp_path / "invalid.toml"
    invalid.write_text(
        text.replace("compute_shares = [0.25, 0.5, 0.75, 1.0]", "compute_shares = [0.5, 1.5]")
    )
    _bad(
        capsys,
        ["run", "--agent", "greedy", "--scenario", str(invalid), "--out", str(tmp_path / "o")],
        "actions.compute_shares",
    )
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('extends = "paper"\nname = "u"\n[episode]\nspeed = 3\n')
    _bad(
        capsys,
        ["run", "--agent", "greedy", "--scenario", str(unknown), "--out", str(tmp_path / "o")],
        "episode.speed: unknown field",
    )
    assert not (tmp_path / "o").exists()
    assert tomllib.loads(text)["name"] == "paper"


def test_unwritable_output_fails_before_running(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    _bad(capsys, ["run", "--agent", "greedy", "--out", str(blocker / "sub")], "--out")
    assert blocker.read_text() == "not a directory"


def test_scenario_errors_name_servers_by_name(capsys, tmp_path):
    text = (Path(__file__).parents[1] / "aif_offload/scenarios/paper.toml").read_text()
    table = tomllib.loads(text)
    edge = next(i for i, s in enumerate(table["servers"]) if s["name"] == "edge-2")
    lines, seen = text.splitlines(keepends=True), -1
    for i, line in enumerate(lines):  # edge-2's num_gpus, whatever its position in the file
        seen += line.strip() == "[[servers]]"
        if seen == edge and line.startswith("num_gpus"):
            lines[i] = "num_gpus = 0\n"
    invalid = tmp_path / "invalid.toml"
    invalid.write_text("".join(lines))
    argv = ["run", "--agent", "greedy", "--scenario", str(invalid), "--out", str(tmp_path / "o")]
    _bad(capsys, argv, "--scenario: scenario")
    _bad(capsys, argv, "servers[edge-2].num_gpus")
    assert not (tmp_path / "o").exists()


def test_version_and_help_that_shows_the_default_agents_in_full(capsys, monkeypatch):
    from aif_offload import __version__
    from aif_offload.cli import DEFAULT_COMPARISON

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"aif-offload {__version__}\n"
    for columns in ("80", "120"):
        monkeypatch.setenv("COLUMNS", columns)
        assert main(["compare", "--help"]) == 0
        out = capsys.readouterr().out
        assert "…" not in out
        words = " ".join(out.replace("│", " ").split())
        assert "Default: " + DEFAULT_COMPARISON.replace(",", ", ") + "." in words


def test_console_script_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "aif_offload.cli", "run", "--agent", "nobody", "--out", "X"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "unknown agent" in done.stderr


class _RecordingAgent(AGENTS["greedy"]):
    """A greedy agent that also reports an episode statistic and recorded 'beliefs'."""

    name = "recording"
    summary = "test double"

    def end_episode(self):
        return {"mean_surprise": np.full(self.context.batch_size, 1.5)}

    def belief_data(self):
        return xr.Dataset({"belief": ("step", np.arange(3.0))})


class _BrokenAgent(AGENTS["random"]):
    name = "broken"
    summary = "test double that fails mid-run"

    def act(self, observation, truth=None):
        raise RuntimeError("agent crashed")


def test_agent_statistics_and_beliefs_are_saved(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(AGENTS, "recording", _RecordingAgent)
    out = tmp_path / "rec"
    argv = ["compare", "--agents", "recording,random", "--seeds", "2", "--episodes", "1"]
    # In-process (--workers 1): the test's registry patch does not reach spawned workers.
    assert main([*argv, "--eval-episodes", "1", "--workers", "1", "--out", str(out)]) == 0
    data = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    assert data.mean_surprise.sel(agent="recording").values.ravel().tolist() == [1.5, 1.5]
    assert data.eval_mean_surprise.sel(agent="recording").values.ravel().tolist() == [1.5, 1.5]
    assert np.isnan(data.mean_surprise.sel(agent="random")).all()
    beliefs = xr.open_dataset(out / "runs" / "recording" / "seed=1.beliefs.nc", engine="h5netcdf")
    assert beliefs.belief.values.tolist() == [0.0, 1.0, 2.0]
    assert beliefs.attrs["agent"] == "recording" and beliefs.attrs["seed"] == "1"
    assert beliefs.attrs["package_version"] and beliefs.attrs["scenario_json"]


def test_a_crash_keeps_finished_runs_and_a_rerun_resumes(tmp_path, monkeypatch):
    monkeypatch.setitem(AGENTS, "recording", _RecordingAgent)
    monkeypatch.setitem(AGENTS, "broken", _BrokenAgent)
    out = tmp_path / "crash"
    argv = ["compare", "--agents", "recording,broken", "--seeds", "2", "--episodes", "1"]
    argv += ["--workers", "1", "--out", str(out)]
    with pytest.raises(RuntimeError, match="agent crashed"):
        main(argv)
    assert not (out / "results.nc").exists()
    finished = sorted((out / "runs" / "recording").glob("seed=*"))
    assert [p.name for p in finished] == [
        "seed=0.beliefs.nc",
        "seed=0.npz",
        "seed=1.beliefs.nc",
        "seed=1.npz",
    ]
    stamps = [p.stat().st_mtime_ns for p in finished]
    monkeypatch.setitem(AGENTS, "broken", AGENTS["random"])  # the bug is fixed; same command again
    assert main(argv) == 0
    assert [p.stat().st_mtime_ns for p in finished] == stamps  # finished runs were not redone
    data = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    assert data.agent.values.tolist() == ["recording", "broken"]
    assert np.isfinite(data.completion_rate).all()


def test_a_different_experiment_in_the_same_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "same"
    base = [
        "compare",
        "--agents",
        "random",
        "--seeds",
        "1",
        "--eval-episodes",
        "0",
        "--out",
        str(out),
    ]
    assert main([*base, "--episodes", "1"]) == 0
    capsys.readouterr()
    _bad(capsys, [*base, "--episodes", "2"], "holds a different experiment")


def test_more_agents_join_an_experiment_without_redoing_its_runs(tmp_path):
    out = tmp_path / "grow"
    base = ["compare", "--seeds", "2", "--episodes", "1", "--eval-episodes", "1", "--out", str(out)]
    assert main([*base, "--agents", "random"]) == 0
    first = sorted((out / "runs" / "random").glob("*.npz"))
    stamps = [p.stat().st_mtime_ns for p in first]
    assert main([*base, "--agents", "random,greedy"]) == 0
    assert [p.stat().st_mtime_ns for p in first] == stamps  # random's runs were kept, not redone
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as data:
        assert data.agent.values.tolist() == ["random", "greedy"]
        assert data.sizes["seed"] == 2


def test_a_sweep_grows_by_seeds_and_values_without_redoing_its_runs(tmp_path):
    out = tmp_path / "sweep"
    base = ["experiment", "load", "--agents", "random", "--episodes", "1", "--eval-episodes", "1"]
    base += ["--out", str(out), "--no-report"]
    assert main([*base, "--values", "200", "--seeds", "1"]) == 0
    first = out / "runs" / "random" / "load_percent=200" / "seed=0.npz"
    stamp = first.stat().st_mtime_ns
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as data:
        before = data.completion_rate.sel(load_percent=200.0, seed=0).values.copy()
    assert main([*base, "--values", "150,200", "--seeds", "2"]) == 0
    assert first.stat().st_mtime_ns == stamp  # the finished run was kept, not redone
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as data:
        assert data.load_percent.values.tolist() == [150.0, 200.0]
        assert data.seed.values.tolist() == [0, 1]
        np.testing.assert_array_equal(data.completion_rate.sel(load_percent=200.0, seed=0), before)
        assert np.isfinite(data.completion_rate).all()


def test_compare_adds_a_nuts_check_of_the_first_pyro_seed_and_survives_its_failure(
    tmp_path, monkeypatch, capsys
):
    import aif_offload.diagnostics.posterior as posterior
    from aif_offload.cli import _check_pyro_posterior
    from aif_offload.experiment.spec import ExperimentSpec
    from aif_offload.scenarios import load_scenario

    spec = ExperimentSpec(
        "compare", ("aif-pyro",), load_scenario("paper").model_dump_json(), (3, 4), 1, 0
    )
    runs = tmp_path / "runs" / "aif-pyro"
    runs.mkdir(parents=True)
    _check_pyro_posterior(tmp_path, spec)  # no belief file: nothing to check
    (runs / "seed=3.beliefs.nc").write_bytes(b"")
    seen = []
    monkeypatch.setattr(posterior, "nuts_check", lambda path: seen.append(path) or path)
    _check_pyro_posterior(tmp_path, spec)
    assert seen == [runs / "seed=3.beliefs.nc"]

    def broken(path):
        raise RuntimeError("sampler\nexploded")

    monkeypatch.setattr(posterior, "nuts_check", broken)
    _check_pyro_posterior(tmp_path, spec)  # a warning, not an exit
    err = [line for line in capsys.readouterr().err.splitlines() if "aif-offload:" in line]
    assert err == [
        f"aif-offload: warning: NUTS check of {runs / 'seed=3.beliefs.nc'} failed (sampler exploded)"
    ]
    (runs / "seed=3.nuts.nc").write_bytes(b"")
    monkeypatch.setattr(posterior, "nuts_check", lambda path: seen.append(path) or path)
    _check_pyro_posterior(tmp_path, spec)  # already there (a resumed run): not redone
    assert len(seen) == 1
