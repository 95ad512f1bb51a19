"""Per-episode metrics (eqs. 9 and 14) and the results file: format, provenance, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from aif_offload.envs.episode_metrics import EpisodeAccumulator
from aif_offload.experiment.results import provenance, to_dataset
from aif_offload.experiment.runner import run_agent
from aif_offload.experiment.storage import write_atomic
from aif_offload.scenarios import load_scenario
from aif_offload.sim.outcome import COMPLETED, DEADLINE_EXCEEDED, OUT_OF_COMPUTE


def _info(latency, completed, failure, accuracy):
    zeros = np.zeros(len(latency))
    return {
        "latency_s": np.array(latency, float),
        "transmission_s": zeros,
        "propagation_s": zeros,
        "queueing_s": zeros,
        "compute_s": np.array(latency, float),
        "completed": np.array(completed),
        "failure": np.array(failure),
        "accuracy": np.array(accuracy, float),
    }


def test_episode_metrics_by_hand():
    acc = EpisodeAccumulator(2)
    # env 0: completes 2 s (0.1159) and 8 s (0.1892), fails one; env 1 fails everything.
    acc.add(
        np.array([1 / 2 + 0.1159, 0.0]),
        _info([2, 20], [True, False], [COMPLETED, DEADLINE_EXCEEDED], [0.1159, 0]),
    )
    acc.add(
        np.array([1 / 8 + 0.1892, 0.0]),
        _info([8, 1], [True, False], [COMPLETED, OUT_OF_COMPUTE], [0.1892, 0]),
    )
    acc.add(
        np.array([0.0, 0.0]),
        _info([30, 1], [False, False], [DEADLINE_EXCEEDED, OUT_OF_COMPUTE], [0, 0]),
    )
    m = acc.summary()
    assert m["completion_rate"].tolist() == pytest.approx([2 / 3, 0.0])
    assert m["mean_latency_s"][0] == pytest.approx(5.0)  # completed tasks only
    assert np.isnan(m["mean_latency_s"][1])
    assert m["mean_accuracy"].tolist() == pytest.approx([(0.1159 + 0.1892) / 3, 0.0])
    assert m["utility"].tolist() == pytest.approx([1 / 5 + (0.1159 + 0.1892) / 3, 0.0])  # eq. 9
    assert m["sum_reward"].tolist() == pytest.approx([0.5 + 0.1159 + 0.125 + 0.1892, 0.0])
    assert m["failures"][:, COMPLETED].tolist() == [2, 0]
    assert m["failures"].sum(axis=1).tolist() == [3, 3]
    # Percentiles of the completed latencies {2, 8}: linear between the order statistics.
    assert m["p50_latency_s"][0] == pytest.approx(5.0)
    assert m["p95_latency_s"][0] == pytest.approx(2 + 0.95 * 6)
    assert m["p99_latency_s"][0] == pytest.approx(2 + 0.99 * 6)
    assert all(np.isnan(m[f"p{q}_latency_s"][1]) for q in (50, 95, 99))


def test_latency_percentiles_match_numpy_on_random_episodes():
    rng = np.random.default_rng(0)
    latency = rng.gamma(2.0, 3.0, (40, 3))
    done = rng.random((40, 3)) < 0.7
    acc = EpisodeAccumulator(3)
    for t in range(40):
        fail = np.where(done[t], COMPLETED, DEADLINE_EXCEEDED)
        acc.add(np.zeros(3), _info(latency[t], done[t], fail, np.zeros(3)))
    m = acc.summary()
    for row in range(3):
        kept = latency[done[:, row], row]
        for q in (50, 95, 99):
            assert m[f"p{q}_latency_s"][row] == pytest.approx(np.quantile(kept, q / 100))
        assert m["p99_latency_s"][row] <= kept.max() and m["p50_latency_s"][row] >= kept.min()


def test_runner_results_do_not_depend_on_the_batch():
    scenario = load_scenario("paper")
    alone = run_agent("random", scenario, [5], 2)[0]
    together = run_agent("random", scenario, [1, 5, 9], 2)[1]
    assert together.seed == 5
    for key, value in alone.metrics.items():
        np.testing.assert_array_equal(value, together.metrics[key])


def test_runner_rejects_bad_arguments():
    scenario = load_scenario("paper")
    with pytest.raises(ValueError, match="episodes"):
        run_agent("random", scenario, [0], 0)
    with pytest.raises(ValueError, match="seeds"):
        run_agent("random", scenario, [], 1)
    with pytest.raises(ValueError, match="seeds"):
        run_agent("random", scenario, [1, 1], 1)


def test_dataset_round_trip_and_provenance(tmp_path):
    scenario = load_scenario("paper", load_percent=50)
    runs = run_agent("greedy", scenario, [0, 1], 2) + run_agent("oracle", scenario, [0, 1], 2)
    data = to_dataset(runs, provenance(scenario, {"greedy": {}, "oracle": {}}, "test"))
    path = tmp_path / "deep" / "results.nc"
    write_atomic(data, path)
    back = xr.open_dataset(path, engine="h5netcdf")
    xr.testing.assert_identical(back.load(), data)
    assert back.attrs["scenario_name"] == "paper"
    tails = back[["p50_latency_s", "p95_latency_s", "p99_latency_s"]].to_array("q")
    assert tails.dims == ("q", "agent", "seed", "episode")
    assert bool((tails.diff("q") >= 0).all()) and "percentile" in back["p95_latency_s"].description
    assert [p.name for p in path.parent.iterdir()] == ["results.nc"]  # no temporary left


def test_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    scenario = load_scenario("paper")
    data = to_dataset(run_agent("random", scenario, [0], 1), provenance(scenario, {}, "test"))

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", explode)
    target = tmp_path / "new" / "dir" / "results.nc"
    with pytest.raises(OSError, match="disk full"):
        write_atomic(data, target)
    assert not (tmp_path / "new").exists()
