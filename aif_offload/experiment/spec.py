"""What an experiment runs: agents x seeds x one swept parameter, and the paper's named experiments."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from aif_offload.experiment.shifts import LOAD_AFTER_PERCENT, SHIFTS, shifted
from aif_offload.scenarios import validate
from aif_offload.sim.scenario import Scenario, set_path

# Sweeps saved before a sweep named its field by dotted path named an episode field alone.
_LEGACY_SWEEPS = {"t_max_s": "episode.t_max_s", "load_percent": "episode.load_percent"}


def sweep_dim(path: str | None) -> str | None:
    """The results' dimension (and run folder prefix) of a swept field: its last path segment."""
    return None if path is None else path.rsplit(".", 1)[-1]


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
    sweep: str | None = None  # a numeric scenario field by dotted path, e.g. "episode.t_max_s"
    values: tuple[float, ...] = ()
    schedule: tuple[tuple[int, float], ...] = ()  # (training episode, new load_percent)
    # (name, spec) of agents that a worker cannot find by name: module:Class or file.py:Class.
    sources: tuple[tuple[str, str], ...] = ()
    task_records: bool = False  # write every task's record next to each run (``*.tasks.nc``)
    # A world shift applied with the schedule's scenarios (``shifts.py``); "" for none.
    shift: str = ""

    def __post_init__(self) -> None:
        if not self.agents:
            raise ValueError("agents: give at least one agent")
        if len(set(self.agents)) != len(self.agents):
            raise ValueError(f"agents: names must be distinct, got {list(self.agents)}")
        if not {name for name, _ in self.sources} <= set(self.agents):
            raise ValueError(f"sources: every agent with a source must be among {self.agents}")
        if not self.seeds:
            raise ValueError("seeds: give at least one seed")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: must be distinct, got {list(self.seeds)}")
        if self.episodes < 1:
            raise ValueError(f"episodes: must be >= 1, got {self.episodes}")
        if self.eval_episodes < 0:
            raise ValueError(f"eval-episodes: must be >= 0, got {self.eval_episodes}")
        if self.sweep in _LEGACY_SWEEPS:
            object.__setattr__(self, "sweep", _LEGACY_SWEEPS[self.sweep])
        if self.sweep is not None:
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
        if self.shift:
            if not self.schedule:
                raise ValueError("shift: a world shift needs a schedule (the episode it starts)")
            shifted(self.base_scenario(), self.shift)  # names the allowed shifts if unknown

    def source_of(self, agent: str) -> str:
        """The agent spec a worker resolves for ``agent`` (its name, unless a source is given)."""
        return dict(self.sources).get(agent, agent)

    def base_scenario(self) -> Scenario:
        return validate(json.loads(self.scenario_json), "experiment")

    @property
    def sweep_dim(self) -> str | None:
        return sweep_dim(self.sweep)

    def scenario_at(self, value: float | None) -> Scenario:
        """The scenario of one value of the sweep (its field set by dotted path)."""
        base = self.base_scenario()
        if self.sweep is None or value is None:
            return base
        table = base.model_dump()
        try:
            set_path(table, self.sweep, value)
        except ValueError as err:
            raise ValueError(f"sweep: {err}") from None
        current = _numeric_at(base.model_dump(), self.sweep)
        if current is None:
            raise ValueError(f"sweep: '{self.sweep}' is not a numeric field of the scenario")
        return validate(table, f"{self.sweep}={value:g}")

    def schedule_scenarios(self, value: float | None) -> list[tuple[int, Scenario]]:
        scenario = self.scenario_at(value)
        later = [(e, scenario.with_overrides(load_percent=load)) for e, load in self.schedule]
        return [(e, shifted(s, self.shift)) for e, s in later] if self.shift else later

    def units(self) -> list[Unit]:
        values = self.values if self.sweep else (None,)
        return [Unit(a, v, s) for a in self.agents for v in values for s in self.seeds]

    def to_json(self) -> str:
        data = asdict(self)
        if not self.sources:  # experiments of registered agents only: the manifest as before
            del data["sources"]
        if not self.shift:
            del data["shift"]
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExperimentSpec:
        data = json.loads(text)
        data["agents"] = tuple(data["agents"])
        data["seeds"] = tuple(data["seeds"])
        data["values"] = tuple(data["values"])
        data["schedule"] = tuple(tuple(x) for x in data["schedule"])
        data["sources"] = tuple(tuple(x) for x in data.get("sources", ()))
        return cls(**data)


# The paper's figures, plus the load step that goes beyond it.
EXPERIMENTS: dict[str, dict] = {
    "training": {"about": "Fig. 3: learning curves at t_max 15 s, load 100 %"},
    "deadline": {
        "about": "Fig. 4: t_max 1..15 s",
        "sweep": "episode.t_max_s",
        "values": tuple(float(t) for t in range(1, 16)),
    },
    "load": {
        "about": "Fig. 5: load 100..200 %",
        "sweep": "episode.load_percent",
        "values": (100.0, 125.0, 150.0, 175.0, 200.0),
    },
    "sweep": {
        "about": "any numeric scenario field by dotted path: --field PATH --values V1,V2,...",
        "sweep": None,
        "values": (),
    },
    "learning": {
        "about": "beyond the paper: learning curves on paper-hidden, active inference under "
        "vague and nominal priors against every deep-RL agent and the rules, same seeds and budget",
        "scenario": "paper-hidden",
    },
    "adaptation": {
        "about": "beyond the paper: half-way through training the world shifts (--shift: "
        "tenant-surge, other tenants take one edge site; load, the load steps to 180 %)"
    },
}


PRIOR_KEY = (
    "prior"  # the variant key of an active-inference agent's prior (``aif-pyro@prior=vague``)
)


def learning_agents() -> list[str]:
    """The ``learning`` experiment's default agents: each active-inference agent under each prior
    it takes (``PRIOR_KEY`` among its hyperparameters, values its ``priors``), every deep-RL
    agent, the rules and the oracle."""
    from aif_offload.agents import agent_class, agent_info, agent_names
    from aif_offload.agents.base import ACTIVE_INFERENCE, DEEP_RL, RULE

    chosen = []
    for name in agent_names():
        family = agent_info(name).family
        if family == ACTIVE_INFERENCE:
            cls = agent_class(name)
            priors = getattr(cls, "priors", ()) if PRIOR_KEY in cls.hyperparameters else ()
            chosen += [f"{name}@{PRIOR_KEY}={p}" for p in priors] or [name]
        elif family in (DEEP_RL, RULE) or name == "oracle":
            chosen.append(name)
    return chosen


def named_experiment(
    name: str,
    *,
    agents: tuple[str, ...],
    scenario: Scenario,
    seeds: tuple[int, ...],
    episodes: int,
    eval_episodes: int,
    values: tuple[float, ...] | None = None,
    sources: tuple[tuple[str, str], ...] = (),
    field: str | None = None,
    task_records: bool = False,
    shift: str | None = None,
) -> ExperimentSpec:
    """The spec of a named experiment on a base scenario.

    ``values`` replaces the sweep's values (the paper's by default), e.g. a subset of them when the
    full sweep does not fit the compute budget. ``field`` (a dotted path) is the field that the
    ``sweep`` experiment sweeps, and only it. ``shift`` is the adaptation experiment's world
    shift (``shifts.SHIFTS``; default ``tenant-surge``), and only it takes one.
    """
    if name not in EXPERIMENTS:
        raise ValueError(
            f"experiment: unknown experiment '{name}', allowed: {', '.join(EXPERIMENTS)}"
        )
    recipe = EXPERIMENTS[name]
    if values is not None and "sweep" not in recipe:
        swept = ", ".join(n for n, r in EXPERIMENTS.items() if "sweep" in r)
        raise ValueError(f"values: only the sweeps take values ({swept}), not '{name}'")
    if (field is not None) != (name == "sweep"):
        raise ValueError(
            "field: the 'sweep' experiment needs a field to sweep (a dotted path, e.g. "
            "episode.mean_interarrival_s), and only it takes one"
        )
    if name == "sweep" and not values:
        raise ValueError("values: the 'sweep' experiment needs the values to sweep")
    base = scenario
    if name in ("training", "adaptation", "learning"):
        base = scenario.with_overrides(t_max_s=15.0, load_percent=100.0)
    if shift is not None and name != "adaptation":
        raise ValueError(f"shift: only the adaptation experiment takes a shift, not '{name}'")
    if name == "adaptation" and (shift or "tenant-surge") not in SHIFTS:
        raise ValueError(f"shift: unknown shift '{shift}', allowed: {', '.join(SHIFTS)}")
    schedule, world_shift = (), ""
    if name == "adaptation":
        shift = shift or "tenant-surge"
        after = LOAD_AFTER_PERCENT if shift == "load" else 100.0
        schedule = ((max(1, episodes // 2), after),)
        world_shift = "" if shift == "load" else shift
    return ExperimentSpec(
        name=name,
        agents=agents,
        scenario_json=base.model_dump_json(),
        seeds=seeds,
        episodes=episodes,
        eval_episodes=eval_episodes,
        sweep=field if name == "sweep" else recipe.get("sweep"),
        values=recipe.get("values", ()) if values is None else tuple(values),
        schedule=schedule,
        sources=sources,
        task_records=task_records,
        shift=world_shift,
    )


def _numeric_at(table: dict, path: str) -> float | None:
    """The number at a dotted ``path`` of a dumped scenario (servers by name), or None."""
    node = table
    for key in path.split("."):
        if isinstance(node, list | tuple):
            node = next((x for x in node if isinstance(x, dict) and x.get("name") == key), None)
        elif isinstance(node, dict):
            node = node.get(key)
        else:
            return None
    is_number = isinstance(node, int | float) and not isinstance(node, bool)
    return float(node) if is_number else None
