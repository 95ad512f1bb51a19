"""What an experiment runs: agents x seeds x one swept parameter, and the paper's named experiments."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from aif_offload.scenarios import validate
from aif_offload.sim.scenario import Scenario

SWEEPS = {"t_max": "t_max_s", "load": "load_percent"}


@dataclass(frozen=True, order=True)
class Unit:
    """One run: an agent on one seed at one value of the swept parameter (None: no sweep)."""

    agent: str
    value: float | None
    seed: int

    def label(self, sweep: str | None) -> str:
        where = f"{sweep}={self.value:g}/" if sweep else ""
        return f"{self.agent}/{where}seed={self.seed}"


@dataclass(frozen=True)
class ExperimentSpec:
    """A complete, serialisable description of a sweep (saved as ``experiment.json``)."""

    name: str
    agents: tuple[str, ...]
    scenario_json: str  # the resolved base scenario
    seeds: tuple[int, ...]
    episodes: int
    eval_episodes: int
    sweep: str | None = None  # a Scenario.episode field: "t_max_s" or "load_percent"
    values: tuple[float, ...] = ()
    schedule: tuple[tuple[int, float], ...] = ()  # (training episode, new load_percent)
    task_records: bool = False  # write every task's record next to each run (``*.tasks.nc``)

    def __post_init__(self) -> None:
        if not self.agents:
            raise ValueError("agents: give at least one agent")
        if len(set(self.agents)) != len(self.agents):
            raise ValueError(f"agents: names must be distinct, got {list(self.agents)}")
        if not self.seeds:
            raise ValueError("seeds: give at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: must be distinct, got {list(self.seeds)}")
        if self.episodes < 1:
            raise ValueError(f"episodes: must be >= 1, got {self.episodes}")
        if self.eval_episodes < 0:
            raise ValueError(f"eval-episodes: must be >= 0, got {self.eval_episodes}")
        if self.sweep is not None:
            if self.sweep not in SWEEPS.values():
                raise ValueError(
                    f"sweep: unknown parameter '{self.sweep}', allowed: {', '.join(SWEEPS)}"
                )
            if not self.values or len(set(self.values)) != len(self.values):
                raise ValueError(
                    f"values: need distinct values of the sweep, got {list(self.values)}"
                )
            for value in self.values:
                self.scenario_at(value)  # raises ScenarioError naming the field if out of range
        for episode, load in self.schedule:
            if not 0 < episode < self.episodes:
                raise ValueError(
                    f"schedule: the load step must fall inside training (1..{self.episodes - 1}), got {episode}"
                )
            self.base_scenario().with_overrides(load_percent=load)

    def base_scenario(self) -> Scenario:
        return validate(json.loads(self.scenario_json), "experiment")

    def scenario_at(self, value: float | None) -> Scenario:
        """The scenario of one value of the sweep."""
        base = self.base_scenario()
        if self.sweep is None or value is None:
            return base
        return validate(
            {**base.model_dump(), "episode": {**base.episode.model_dump(), self.sweep: value}},
            f"{self.sweep}={value:g}",
        )

    def schedule_scenarios(self, value: float | None) -> list[tuple[int, Scenario]]:
        scenario = self.scenario_at(value)
        return [(e, scenario.with_overrides(load_percent=load)) for e, load in self.schedule]

    def units(self) -> list[Unit]:
        values = self.values if self.sweep else (None,)
        return [Unit(a, v, s) for a in self.agents for v in values for s in self.seeds]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExperimentSpec:
        data = json.loads(text)
        data["agents"] = tuple(data["agents"])
        data["seeds"] = tuple(data["seeds"])
        data["values"] = tuple(data["values"])
        data["schedule"] = tuple(tuple(x) for x in data["schedule"])
        return cls(**data)


# The paper's figures, plus the load step that goes beyond it.
EXPERIMENTS: dict[str, dict] = {
    "training": {"about": "Fig. 3: learning curves at t_max 15 s, load 100 %"},
    "deadline": {
        "about": "Fig. 4: t_max 1..15 s",
        "sweep": "t_max_s",
        "values": tuple(float(t) for t in range(1, 16)),
    },
    "load": {
        "about": "Fig. 5: load 100..200 %",
        "sweep": "load_percent",
        "values": (100.0, 125.0, 150.0, 175.0, 200.0),
    },
    "adaptation": {
        "about": "beyond the paper: the load steps from 100 % to 180 % half-way through training"
    },
}


def named_experiment(
    name: str,
    *,
    agents: tuple[str, ...],
    scenario: Scenario,
    seeds: tuple[int, ...],
    episodes: int,
    eval_episodes: int,
    values: tuple[float, ...] | None = None,
    task_records: bool = False,
) -> ExperimentSpec:
    """The spec of a named experiment on a base scenario.

    ``values`` replaces the sweep's values (the paper's by default), e.g. a subset of them when the
    full sweep does not fit the compute budget.
    """
    if name not in EXPERIMENTS:
        raise ValueError(
            f"experiment: unknown experiment '{name}', allowed: {', '.join(EXPERIMENTS)}"
        )
    recipe = EXPERIMENTS[name]
    if values is not None and "sweep" not in recipe:
        swept = ", ".join(n for n, r in EXPERIMENTS.items() if "sweep" in r)
        raise ValueError(f"values: only the sweeps take values ({swept}), not '{name}'")
    base = scenario
    if name in ("training", "adaptation"):
        base = scenario.with_overrides(t_max_s=15.0, load_percent=100.0)
    schedule = ((max(1, episodes // 2), 180.0),) if name == "adaptation" else ()
    return ExperimentSpec(
        name=name,
        agents=agents,
        scenario_json=base.model_dump_json(),
        seeds=seeds,
        episodes=episodes,
        eval_episodes=eval_episodes,
        sweep=recipe.get("sweep"),
        values=recipe.get("values", ()) if values is None else tuple(values),
        schedule=schedule,
        task_records=task_records,
    )
