"""World shifts for the ``adaptation`` experiment: what changes half-way through training.

``load``: the load steps to 180 % (the first version's probe; at 180 % the system is capacity-bound,
so every agent reaches its new level at once and it does not probe adaptation, docs/models.md).
``tenant-surge``: from the step on, other tenants hold all but one GPU of one edge site (the first
edge of the scenario) for the rest of the run, in a regime the nominal view knows nothing of; the
server that was a good choice stops being one, so an agent must notice and re-route.
"""

from __future__ import annotations

from aif_offload.scenarios import validate
from aif_offload.sim.scenario import Scenario

SHIFTS = ("tenant-surge", "load")
LOAD_AFTER_PERCENT = 180.0  # the ``load`` shift
SURGE_JOB_S = 60.0  # a surge job holds a GPU for a minute on average
SURGE_ERLANGS_PER_GPU = 15.0  # offered load per GPU left to the tenants: all busy ~93 % of the time


def surge_server(scenario: Scenario) -> str:
    """The edge site the tenant surge hits: the scenario's first edge."""
    edges = [s.name for s in scenario.servers if s.kind == "edge"]
    if not edges:
        raise ValueError("shift: tenant-surge needs an edge server, the scenario has none")
    return edges[0]


def shifted(scenario: Scenario, shift: str) -> Scenario:
    """``scenario`` after the shift (the load step's load is set by the schedule itself)."""
    if shift not in SHIFTS:
        raise ValueError(f"shift: unknown shift '{shift}', allowed: {', '.join(SHIFTS)}")
    if shift == "load":
        return scenario
    name = surge_server(scenario)
    gpus = next(s.num_gpus for s in scenario.servers if s.name == name)
    held = max(1, gpus - 1)
    table = scenario.model_dump()
    table["hidden"]["tenants"][name] = {
        "mean_job_s": SURGE_JOB_S,
        "max_gpus": held,
        "regimes": [
            {
                "name": "surge",
                "arrival_per_s": SURGE_ERLANGS_PER_GPU * held / SURGE_JOB_S,
                "mean_dwell_s": 1e7,  # for the rest of the run
            }
        ],
    }
    return validate(table, f"{scenario.name} with a tenant surge on {name}")


def describe(shift: str, scenario: Scenario, load_after: float) -> str:
    """What changes at the step, in words (for the report and the run's title)."""
    if shift == "tenant-surge":
        return f"tenants surge on {surge_server(scenario)} (all but one of its GPUs)"
    return f"load {scenario.episode.load_percent:g} % → {load_after:g} %"
