"""The ``learning`` experiment: paper-hidden by default, each active-inference agent under each prior."""

from __future__ import annotations

import json
from typing import ClassVar

import xarray as xr

from aif_offload.agents import agent_info, agent_names
from aif_offload.agents.base import ACTIVE_INFERENCE, DEEP_RL, RULE
from aif_offload.cli import main
from aif_offload.experiment import spec as spec_module
from aif_offload.experiment.spec import learning_agents


def test_the_default_agents_are_every_learner_the_rules_and_the_oracle():
    chosen = learning_agents()
    bases = {name.partition("@")[0] for name in chosen}
    families = {name: agent_info(name).family for name in agent_names()}
    wanted = {n for n, f in families.items() if f in (ACTIVE_INFERENCE, DEEP_RL, RULE)}
    assert bases == wanted | {"oracle"}
    assert "hindsight" not in bases  # the opt-in bound is not a contestant


def test_an_agent_that_takes_priors_runs_under_each(monkeypatch):
    class Priors:
        hyperparameters: ClassVar[dict[str, str]] = {"prior": "prior", "lr": "lr"}
        priors = ("nominal", "vague")

    class Plain:
        hyperparameters: ClassVar[dict[str, str]] = {"lr": "lr"}

    import aif_offload.agents as agents

    monkeypatch.setattr(
        agents,
        "agent_class",
        lambda name: Priors if name == "aif-pyro" else Plain,
    )
    chosen = spec_module.learning_agents()
    assert "aif-pyro@prior=nominal" in chosen and "aif-pyro@prior=vague" in chosen
    assert "aif-pyro" not in chosen and "aif-pymdp" in chosen


def test_learning_runs_on_paper_hidden_unless_told_otherwise(tmp_path):
    out = tmp_path / "learning"
    argv = ["experiment", "learning", "--agents", "greedy", "--seeds", "1", "--episodes", "1"]
    assert main([*argv, "--eval-episodes", "0", "--out", str(out), "--no-report"]) == 0
    manifest = json.loads((out / "experiment.json").read_text())
    assert json.loads(manifest["scenario_json"])["name"] == "paper-hidden"
    with xr.open_dataset(out / "results.nc") as data:
        assert data.attrs["experiment"] == "learning"
