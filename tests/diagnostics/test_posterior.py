"""Posterior checks: belief files carry the observations, NUTS recovers simulated parameters,
predictive checks of well-specified data are unremarkable, the command line fails in one line."""

from __future__ import annotations

import arviz as az
import numpy as np
import pyro
import pytest
import torch
from aif_offload.analysis import posterior_checks
from aif_offload.models.latent_load_model import LoadData, LoadModelPrior, latent_load_model

import aif_offload.agents
from aif_offload.agents.aif_pyro import AifPyroAgent, AifPyroConfig
from aif_offload.diagnostics.posterior import (
    NutsSettings,
    episode_data,
    episode_groups,
    load_groups,
    noise_free_compute,
    nuts_check,
    nuts_idata,
    nuts_path,
    nuts_summary,
    replicate,
    select_episode,
)
from aif_offload.diagnostics.ppc import ppc_checks
from aif_offload.experiment.runner import run_agent
from aif_offload.planning.cem import CemConfig
from aif_offload.scenarios import load_scenario

SMALL = AifPyroConfig(
    planner=CemConfig(iterations=2, candidates=16, top_k=4, horizon=2),
    num_models=3,
    svi_steps=3,
    svi_jit=False,
    ppc_draws=12,
)
TRUTH = {
    "log_speed": torch.tensor([0.15, -0.1], dtype=torch.float64),
    "process_noise": torch.tensor(0.01, dtype=torch.float64),
    "report_noise": torch.tensor(0.05, dtype=torch.float64),
    "compute_noise": torch.tensor(0.1, dtype=torch.float64),
}


class _Small(AifPyroAgent):
    def __init__(self, context, *, seeds):
        super().__init__(context, seeds=seeds, config=SMALL)


@pytest.fixture(scope="module")
def beliefs(tmp_path_factory):
    """A belief file written by the runner: 2 training episodes and 1 evaluation episode."""
    path = tmp_path_factory.mktemp("run") / "runs" / "aif-pyro" / "seed=3.beliefs.nc"
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(aif_offload.agents.AGENTS, "aif-pyro", _Small)
        run_agent(
            "aif-pyro",
            load_scenario("paper"),
            seeds=[3],
            episodes=2,
            eval_episodes=1,
            beliefs_path=path,
            beliefs_attrs={"package_version": "test", "git_commit": "abc"},
        )
    return path


def test_belief_file_holds_the_observations_inputs_and_predictive(beliefs):
    idata = az.from_netcdf(beliefs)
    observed, constant = idata.observed_data, idata.constant_data
    assert observed["log_compute"].dims == ("seed", "episode", "step")
    assert observed["report"].dims == ("seed", "episode", "step", "server")
    assert observed["report"].shape == (1, 3, 100, 5)
    assert list(observed["phase"].values) == ["train", "train", "eval"]
    for name, dims in {
        "control": ("seed", "episode", "step", "server"),
        "server_index": ("seed", "episode", "step"),
        "log_nominal_compute": ("seed", "episode", "step"),
        "compute_mask": ("seed", "episode", "step"),
        "report_mask": ("seed", "episode", "step", "server"),
        "prior_log_speed_scale": ("seed", "episode", "server"),
        "true_load": ("seed", "episode", "step", "server"),
    }.items():
        assert constant[name].dims == dims, name
    assert constant["compute_mask"].dtype == bool
    # log_compute is NaN exactly where nothing was observed
    np.testing.assert_array_equal(
        np.isfinite(observed["log_compute"].values), constant["compute_mask"].values
    )
    predictive = idata.posterior_predictive
    assert predictive["log_compute"].dims == ("chain", "draw", "seed", "episode", "step")
    assert predictive["report"].shape == (1, 12, 1, 3, 100, 5)
    assert float(predictive["report"].min()) >= 0.0 and float(predictive["report"].max()) <= 1.0
    assert idata.posterior["process_noise"].dims == ("chain", "draw", "seed")
    assert idata.posterior_predictive.attrs["package_version"] == "test"
    # the episode refitted last is the last training one, and the prior carried over moved
    assert select_episode(load_groups(beliefs)) == (3, 1)
    assert not np.allclose(constant["prior_log_speed_scale"].isel(episode=1), 0.3)
    # plot_ppc works from the file alone
    import matplotlib

    matplotlib.use("Agg")
    az.plot_ppc(idata, num_pp_samples=5)


def test_episode_data_rebuilds_what_the_agent_fitted(beliefs):
    groups = load_groups(beliefs)
    data, prior = episode_data(groups, 3, 1)
    assert data.shape == (1, 100, 5)
    assert data.server.dtype == torch.long and data.report_mask.dtype == torch.bool
    assert prior.report_delay == 2 and prior.process_noise_scale == SMALL.process_noise_prior
    np.testing.assert_allclose(
        prior.log_speed_scale.numpy(),
        groups["constant_data"]["prior_log_speed_scale"].sel(seed=3, episode=1).values,
    )
    _, initial = episode_data(groups, 3, 1, prior="initial")
    np.testing.assert_allclose(initial.log_speed_scale.numpy(), SMALL.prior_log_speed_scale)
    with pytest.raises(ValueError, match="--seed"):
        select_episode(groups, seed=99)


@pytest.fixture(scope="module")
def checked(beliefs):
    """A (tiny) NUTS check of the belief file, written next to it."""
    return nuts_check(
        beliefs, NutsSettings(chains=2, warmup=10, samples=10, max_tree_depth=4, jit=False)
    )


def test_nuts_check_writes_a_self_contained_file_next_to_the_beliefs(beliefs, checked):
    path = checked
    assert path == nuts_path(beliefs) and path.name == "seed=3.nuts.nc"
    idata = az.from_netcdf(path)
    assert set(idata.groups()) >= {
        "posterior",
        "sample_stats",
        "log_likelihood",
        "posterior_predictive",
        "observed_data",
        "constant_data",
    }
    assert idata.posterior["log_speed"].dims == ("chain", "draw", "server")
    assert idata.posterior_predictive["log_compute"].dims == (
        "chain",
        "draw",
        "seed",
        "episode",
        "step",
    )
    assert int(idata.observed_data["episode"].values[0]) == 1
    attrs = idata.posterior.attrs
    assert attrs["git_commit"] == "abc" and attrs["beliefs_file"] == "seed=3.beliefs.nc"
    # the simulator's compute time is its nominal time: those observations carry no noise
    assert attrs["compute_observations"].startswith("dropped: noise-free")
    table = ppc_checks(idata)
    assert list(table.index) == ["log_compute", "report"]
    assert not list(path.parent.glob(".*.tmp"))


def _simulate(steps: int = 40, seed: int = 0) -> tuple[LoadData, LoadModelPrior]:
    g = torch.Generator().manual_seed(seed)
    control = 0.05 * torch.randn(1, steps, 2, generator=g, dtype=torch.float64)
    control[:, 0] = 0.5  # start the loads mid-range, so that few reports are clipped
    server = torch.randint(0, 2, (1, steps), generator=g)
    log_nominal = torch.log(2.0 + 8.0 * torch.rand(1, steps, generator=g)).double()
    inputs = LoadData(control, server, log_nominal)
    prior = LoadModelPrior(process_noise_scale=0.02)
    pyro.set_rng_seed(seed)
    trace = pyro.poutine.trace(pyro.condition(latent_load_model, data=TRUTH)).get_trace(
        inputs, prior
    )
    report = trace.nodes["report"]["value"].clamp(0.0, 1.0)  # the environment clips reports
    data = LoadData(
        control,
        server,
        log_nominal,
        log_compute=trace.nodes["log_compute"]["value"][..., 0],
        report=report,
        report_mask=(report > 0.0) & (report < 1.0),
    )
    return data, prior


@pytest.mark.slow
def test_nuts_recovers_simulated_parameters_and_summarises_them():
    data, prior = _simulate()
    settings = NutsSettings(chains=2, warmup=80, samples=80)
    idata = nuts_idata(episode_groups(data, prior), settings)
    summary = nuts_summary(idata)
    assert {"r_hat", "ess_bulk", "ess_tail", "mean", "sd"} <= set(summary.table.columns)
    assert summary.chains == 2 and summary.draws == 80 and summary.divergences >= 0
    table = summary.table
    for j in range(2):
        row = table.loc[f"log_speed[{j}]"]
        assert abs(row["mean"] - float(TRUTH["log_speed"][j])) < 3 * row["sd"] + 0.02
    for name in ("report_noise", "compute_noise"):
        row = table.loc[name]
        assert abs(row["mean"] - float(TRUTH[name])) < 3 * row["sd"] + 0.01, name
    assert table["r_hat"].max() < 1.1
    assert idata.posterior.attrs["compute_observations"] == "used"


def test_predictive_checks_of_data_from_the_model_are_unremarkable():
    data, prior = _simulate(steps=60, seed=1)
    groups = episode_groups(data, prior)
    draws = {k: v.expand(400, *v.shape).clone() for k, v in TRUTH.items()}
    replicas = replicate(data, prior, draws, seed=2)
    groups["posterior_predictive"] = _as_predictive(replicas)
    table = ppc_checks(groups)
    for column in ("p_mean", "p_sd", "p_resid_sd"):
        assert table[column].between(0.02, 0.98).all(), (column, table[column])
    assert table.loc["log_compute", "cover_90"] == pytest.approx(0.9, abs=0.1)
    assert table.loc["log_compute", "cover_50"] == pytest.approx(0.5, abs=0.15)
    # a misfit is flagged: compute times without noise, against a model with s = 0.1
    exact = LoadData(
        data.control,
        data.server,
        data.log_nominal_compute,
        data.log_nominal_compute + 0.15,
        data.report,
    )
    assert noise_free_compute(exact) and not noise_free_compute(data)
    groups = episode_groups(exact, prior)
    groups["posterior_predictive"] = _as_predictive(replicas)
    assert ppc_checks(groups).loc["log_compute", "p_resid_sd"] == 1.0


def _as_predictive(replicas):
    import xarray as xr

    return xr.Dataset(
        {
            "log_compute": (
                ("chain", "draw", "seed", "episode", "step"),
                _lead(replicas, "log_compute"),
            ),
            "report": (
                ("chain", "draw", "seed", "episode", "step", "server"),
                _lead(replicas, "report"),
            ),
        },
        coords={"episode": [0], "seed": [0]},
    )


def _lead(replicas, name):
    return replicas[name][None, :, None]


def test_settings_reject_bad_values():
    with pytest.raises(ValueError, match="chains"):
        NutsSettings(chains=0)
    with pytest.raises(ValueError, match="compute"):
        NutsSettings(compute="sometimes")


def _one_line_error(capsys, argv) -> str:
    assert posterior_checks.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_command_line_errors_are_one_line(tmp_path, capsys):
    assert "no such directory" in _one_line_error(capsys, [str(tmp_path / "missing")])
    (tmp_path / "runs" / "greedy").mkdir(parents=True)
    assert "no aif-pyro belief files" in _one_line_error(capsys, [str(tmp_path)])
    assert "chains" in _one_line_error(capsys, [str(tmp_path), "--chains", "0"])
    with pytest.raises(SystemExit) as done:
        posterior_checks.main([str(tmp_path), "--prior", "nonsense"])
    assert done.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--prior" in err


def test_command_line_reports_existing_checks(beliefs, checked, capsys):
    directory = beliefs.parents[2]
    assert posterior_checks.main([str(directory)]) == 0
    out = capsys.readouterr()
    assert "exists, kept" in out.err
    assert "r_hat" in out.out and "p_resid_sd" in out.out and "svi_mean" in out.out
