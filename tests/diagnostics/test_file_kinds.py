"""Every kind of InferenceData file the package writes works with ArviZ's own functions.

Small real files: the belief files of ``aif-pymdp``, ``aif-pyro`` and ``aif-ensemble`` written by
the runner after a tiny run, and the NUTS file ``nuts_check`` writes from the ``aif-pyro`` one.
On each: the groups ArviZ defines hold draws with ``chain`` and ``draw`` first, the others none;
no dim is an unnamed ``*_dim_N``; ``az.summary``, ``az.ess``, ``az.rhat`` run on the draws (R-hat
finite with several chains, and with one chain only where the attrs say the draws are not from a
sampler); ``az.loo`` runs on every ``log_likelihood`` variable; ``az.plot_trace`` draws.
"""

from __future__ import annotations

import re

import arviz as az
import matplotlib
import numpy as np
import pytest

import aif_offload.agents
from aif_offload.agents.aif_ensemble import AifEnsembleAgent, AifEnsembleConfig
from aif_offload.agents.aif_pymdp import AifPymdpAgent
from aif_offload.agents.aif_pyro import AifPyroAgent, AifPyroConfig
from aif_offload.diagnostics.posterior import NutsSettings, nuts_check
from aif_offload.experiment.runner import run_agent
from aif_offload.planning.cem import CemConfig
from aif_offload.scenarios import load_scenario, validate

matplotlib.use("Agg")
pytestmark = pytest.mark.slow

DRAW_GROUPS = {
    "posterior",
    "prior",
    "posterior_predictive",
    "prior_predictive",
    "log_likelihood",
    "sample_stats",
}
SMALL_PYRO = AifPyroConfig(
    planner=CemConfig(iterations=2, candidates=16, top_k=4, horizon=2),
    num_models=3,
    svi_steps=3,
    svi_jit=False,
    ppc_draws=12,
)


class _Pyro(AifPyroAgent):
    def __init__(self, context, *, seeds):
        super().__init__(context, seeds=seeds, config=SMALL_PYRO)


class _Ensemble(AifEnsembleAgent):
    def __init__(self, context, *, seeds):
        config = AifEnsembleConfig(base=SMALL_PYRO, members=3, hidden=8, train_steps=5)
        super().__init__(context, seeds=seeds, config=config)


AGENTS = {"aif-pymdp": AifPymdpAgent, "aif-pyro": _Pyro, "aif-ensemble": _Ensemble}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """One file of every kind: name -> path."""
    table = load_scenario("paper").model_dump()
    table["episode"] |= {"tasks_per_episode": 20}
    scenario = validate(table)
    root = tmp_path_factory.mktemp("kinds") / "runs"
    out = {}
    with pytest.MonkeyPatch.context() as patch:
        for name, cls in AGENTS.items():
            patch.setitem(aif_offload.agents.AGENTS, name, cls)
            path = root / name / "seed=0.beliefs.nc"
            run_agent(name, scenario, [0, 1], 1, eval_episodes=1, beliefs_path=path)
            out[f"{name} beliefs"] = path
    settings = NutsSettings(chains=2, warmup=20, samples=20, max_tree_depth=4, jit=False)
    out["NUTS check"] = nuts_check(out["aif-pyro beliefs"], settings)
    return out


KINDS = ("aif-pymdp beliefs", "aif-pyro beliefs", "aif-ensemble beliefs", "NUTS check")


@pytest.mark.parametrize("kind", KINDS)
def test_groups_hold_draws_where_arviz_expects_them_and_name_every_dim(files, kind):
    idata = az.from_netcdf(files[kind])
    assert idata.groups()
    for group in idata.groups():
        ds = idata[group]
        for name, value in ds.data_vars.items():
            dims = value.dims
            if group in DRAW_GROUPS:
                assert dims[:2] == ("chain", "draw"), (group, name, dims)
            else:
                assert "chain" not in dims and "draw" not in dims, (group, name, dims)
            assert not any(re.search(r"_dim_\d+$", d) for d in dims), (group, name, dims)


@pytest.mark.parametrize("kind", KINDS)
def test_arviz_summary_ess_rhat_loo_and_a_plot_run(files, kind):
    idata = az.from_netcdf(files[kind])
    group = "posterior" if "posterior" in idata.groups() else "prior"
    draws = idata[group]
    chains = draws.sizes["chain"]
    if chains == 1:  # one set of independent draws: only where they say they are not MCMC
        assert draws.attrs["draws_are"] == "variational"
    with np.errstate(invalid="ignore", divide="ignore"):
        table = az.summary(draws, kind="all", round_to="none")
        ess = az.ess(draws)
        rhat = az.rhat(draws)
    assert len(table) > 0 and np.isfinite(table["mean"]).all()
    for name in draws.data_vars:
        assert np.all(ess[name].values > 0)
        assert np.isfinite(rhat[name].values).all() == (chains > 1)
    if "log_likelihood" in idata.groups():
        for name in idata.log_likelihood.data_vars:
            loo = az.loo(idata, var_name=name)
            assert np.isfinite(loo["elpd_loo"])
            assert loo["n_data_points"] == idata.log_likelihood[name].shape[-1]
    first = next(iter(draws.data_vars))
    coords = {d: draws[d].values[:1] for d in draws[first].dims[2:] if d in draws.coords}
    axes = az.plot_trace(draws, var_names=[first], coords=coords)
    assert axes.size == 2
    matplotlib.pyplot.close("all")


def test_kinds_mark_how_their_draws_were_made(files):
    pymdp = az.from_netcdf(files["aif-pymdp beliefs"])
    assert pymdp.posterior.attrs["draws_are"] == "exact"
    for draws in pymdp.posterior.data_vars.values():  # load_transition_<server>
        np.testing.assert_allclose(draws.sum(draws.dims[3]), 1.0, rtol=1e-5)
    assert "q_load" in pymdp.filtering and "q_pi" in pymdp.filtering
    pyro = az.from_netcdf(files["aif-pyro beliefs"])
    assert pyro.posterior.attrs["draws_are"] == "variational"
    assert pyro.posterior_predictive.attrs["inference_method"] == "svi"
    assert {"load_mean", "efe"} <= set(pyro.filtering)
    ensemble = az.from_netcdf(files["aif-ensemble beliefs"])
    assert "posterior" not in ensemble.groups()
    assert ensemble.prior.attrs["inference_method"] == "prior_sampling"
    nuts = az.from_netcdf(files["NUTS check"])
    draws = ("posterior", "sample_stats", "log_likelihood", "posterior_predictive")
    assert all(nuts[g].attrs["inference_method"] == "nuts" for g in draws)
    assert nuts.log_likelihood["report"].dims == ("chain", "draw", "report_obs")
    assert set(nuts.log_likelihood["report_obs_server"].values) <= set(
        nuts.posterior["server"].values
    )
