"""The offloading problem as a discrete POMDP, written with :mod:`aif_offload.pomdp`.

Copy this file and change the numbers or the levels; ``offloading_model`` returns a
:class:`~aif_offload.pomdp.ModelSpec` that :func:`aif_offload.pomdp.make_agent` turns into a pymdp
agent. The tables are documented in ``docs/models.md`` ("Discrete offloading POMDP (pymdp)").

Hidden factors: the load of every server (``load_<server>``: free / busy / full), the requester's
channel quality, the class of the current task, the route (where the last task went, set by the
``server`` control; "none" before the first task) and the allocation profile it got (set by the
``allocation`` control). Observations: a binned load report per server, the outcome of the last
task (fast / slow / failed), its accuracy tier, the requester's distance band and the task size.
The outcome and the accuracy tier depend on the route, the allocation and the loads: A cannot
depend on the action, so the action is carried into the state by the route and allocation factors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from aif_offload.pomdp import Control, Factor, Modality, ModelSpec

LOAD_LEVELS = ("free", "busy", "full")
LOAD_BINS = (0.6, 0.2)
"""Reported compute left above LOAD_BINS[0] is "free", above [1] "busy", else "full": at the edge
(9 GPUs) >= 6, 2-5 and 0-1 GPUs free; at the cloud (2 GPUs) both, one, none."""
OUTCOME_LEVELS = ("none", "fast", "slow", "failed")
ACCURACY_LEVELS = ("none", "cloud-tier", "edge-tier")
ALLOCATIONS = ("whole", "half")


@dataclass(frozen=True)
class OffloadingParams:
    """The numbers of the initial (prior) model; learning refines B and A from experience."""

    t_max_s: float = 15.0
    """Deadline; the outcome bins are fast (<= t_max / 3), slow (<= t_max), failed."""
    pass_at_100_cloud: float = 0.1159
    pass_at_100_edge: float = 0.1892
    guidance_scale: float = 4.0
    """Nats of preference per unit of rewardless guidance (eq. 11: 1/L + pass@100)."""
    failure_penalty: float = 4.0
    """Preference (negative) for a failed task: completion is strongly preferred."""
    up_cloud: tuple[tuple[float, ...], ...] = ((0.7, 0.7), (0.4, 0.4))
    """P(cloud load level rises) when it gets a task: per allocation (whole, half), per level
    below "full" (free, busy)."""
    up_edge: tuple[tuple[float, ...], ...] = ((0.3, 0.3), (0.15, 0.15))
    """P(edge load level rises) when it gets a task, per allocation and level."""
    down_cloud: float = 0.3
    """P(cloud load level falls) in a step it gets no task (cloud tasks last ~9 steps)."""
    down_edge: float = 0.06
    """P(edge load level falls) in a step it gets no task (edge tasks last ~40 steps)."""
    fail_by_load: tuple[float, ...] = (0.03, 0.1, 0.6)
    """P(failed) of a task by the load of its server (free, busy, full)."""
    fail_half_edge: float = 0.9
    """A half GPU at the edge (~18 s) misses a 15 s deadline."""
    report_accuracy: float = 0.8
    """P(report bin = true load level); the rest goes to the neighbouring bins."""
    floor: float = 0.01
    """Mass mixed into every column, so that no transition or outcome is impossible (learnable)."""


def _soft(p: np.ndarray, floor: float) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return (1 - floor) * p / p.sum() + floor / p.size


def offloading_model(
    servers: Sequence[str],
    is_cloud: Sequence[bool],
    params: OffloadingParams | None = None,
) -> ModelSpec:
    """The offloading POMDP for the named servers (``is_cloud`` marks the cloud ones)."""
    p = params or OffloadingParams()
    servers = tuple(servers)
    if len(servers) != len(is_cloud) or not servers:
        raise ValueError("servers: need one is_cloud flag per server and at least one server")
    loads = tuple(f"load_{s}" for s in servers)
    controls = [Control("server", servers), Control("allocation", ALLOCATIONS)]
    factors = [
        *(Factor(f, LOAD_LEVELS, controls=("server", "allocation")) for f in loads),
        Factor("channel", ("good", "poor")),
        Factor("task_class", ("short", "long")),
        Factor("route", ("none", *servers), controls=("server",)),
        Factor("allocation_used", ALLOCATIONS, controls=("allocation",)),
    ]
    modalities = [
        *(Modality(f"report_{s}", LOAD_LEVELS, depends_on=(f"load_{s}",)) for s in servers),
        # One outcome modality per server (its own load only, so A stays small): "none" unless
        # the last task went there.
        *(
            Modality(
                f"outcome_{s}", OUTCOME_LEVELS, depends_on=("route", "allocation_used", f"load_{s}")
            )
            for s in servers
        ),
        Modality("accuracy", ACCURACY_LEVELS, depends_on=("route", "allocation_used")),
        Modality("distance", ("near", "far"), depends_on=("channel",)),
        Modality("task_size", ("short", "long"), depends_on=("task_class",)),
    ]
    spec = ModelSpec("offloading", factors=factors, modalities=modalities, controls=controls)
    n = len(LOAD_LEVELS)

    # Loads: a task sent to a server may push its load up a level; otherwise the load drains.
    for j, (server, load) in enumerate(zip(servers, loads, strict=True)):
        up = p.up_cloud if is_cloud[j] else p.up_edge
        down = p.down_cloud if is_cloud[j] else p.down_edge
        for i, level in enumerate(LOAD_LEVELS):
            drain = np.zeros(n)
            drain[max(i - 1, 0)] += down
            drain[i] += 1 - down
            for a, allocation in enumerate(ALLOCATIONS):
                rise = np.zeros(n)
                if i < n - 1:
                    rise[i + 1] += up[a][i]
                    rise[i] += 1 - up[a][i]
                else:
                    rise[i] = 1.0
                for target in servers:
                    probs = rise if target == server else drain
                    spec.set_transition(
                        load,
                        _soft(probs, p.floor),
                        **{load: level},
                        server=target,
                        allocation=allocation,
                    )

    # Channel and task class: drawn afresh for every request (a new terminal each step).
    spec.set_transition("channel", [0.7, 0.3])
    spec.set_transition("task_class", [0.8, 0.2])
    # Route and allocation_used: set by the action, whatever they were.
    for target in servers:
        spec.set_transition("route", {target: 1.0}, server=target)
    for allocation in ALLOCATIONS:
        spec.set_transition("allocation_used", {allocation: 1.0}, allocation=allocation)
    spec.set_initial("route", {"none": 1.0})
    for load in loads:  # every server starts idle
        spec.set_initial(load, _soft([1.0] + [0.0] * (len(LOAD_LEVELS) - 1), 0.1))

    # Load reports: noisy (and delayed) bins of the true load.
    for server, load in zip(servers, loads, strict=True):
        for i, level in enumerate(LOAD_LEVELS):
            probs = np.array([1.0 / (1 + abs(i - k)) ** 3 for k in range(n)])
            probs[i] = 0.0
            probs = (1 - p.report_accuracy) * probs / probs.sum()
            probs[i] = p.report_accuracy
            spec.set_likelihood(f"report_{server}", probs, **{load: level})
    spec.set_likelihood("distance", _soft([1, 0], 0.3), channel="good")
    spec.set_likelihood("distance", _soft([0, 1], 0.3), channel="poor")
    spec.set_likelihood("task_size", _soft([1, 0], 0.1), task_class="short")
    spec.set_likelihood("task_size", _soft([0, 1], 0.1), task_class="long")

    # Outcome of the last task, seen in the modality of the server it went to (else "none"), and
    # its accuracy tier ("none" if it failed: a half GPU at the edge misses the deadline).
    for j, (server, load) in enumerate(zip(servers, loads, strict=True)):
        modality = f"outcome_{server}"
        spec.set_likelihood(modality, {"none": 1.0})
        for a, allocation in enumerate(ALLOCATIONS):
            for i, level in enumerate(LOAD_LEVELS):
                fail = p.fail_by_load[i]
                if a == 1 and not is_cloud[j]:
                    fail = max(fail, p.fail_half_edge)
                fast = 0.95 if is_cloud[j] else 0.05
                outcome = _soft([0, (1 - fail) * fast, (1 - fail) * (1 - fast), fail], p.floor)
                spec.set_likelihood(
                    modality, outcome, route=server, allocation_used=allocation, **{load: level}
                )
            fail = p.fail_half_edge if (a == 1 and not is_cloud[j]) else p.fail_by_load[1]
            tier = [fail, 1 - fail, 0] if is_cloud[j] else [fail, 0, 1 - fail]
            spec.set_likelihood(
                "accuracy", _soft(tier, p.floor), route=server, allocation_used=allocation
            )
    spec.set_likelihood("accuracy", {"none": 1.0}, route="none")

    # Preferences from the rewardless guidance (eq. 11): tc * (1/L + pass@100), with L the
    # middle of each latency bin; failure strongly dispreferred.
    fast_s, slow_s = p.t_max_s / 6, 2 * p.t_max_s / 3
    k = p.guidance_scale
    for server in servers:
        spec.set_preference(
            f"outcome_{server}",
            {"fast": k / fast_s, "slow": k / slow_s, "failed": -p.failure_penalty},
        )
    spec.set_preference(
        "accuracy", {"cloud-tier": k * p.pass_at_100_cloud, "edge-tier": k * p.pass_at_100_edge}
    )
    return spec


def model_for_scenario(scenario, params: OffloadingParams | None = None) -> ModelSpec:
    """The model for a scenario's servers, deadline and pass@100 values."""
    servers = [s.name for s in scenario.servers]
    cloud = [s.kind == "cloud" for s in scenario.servers]
    base = params or OffloadingParams()
    pass_cloud = [s.pass_at_100 for s in scenario.servers if s.kind == "cloud"]
    pass_edge = [s.pass_at_100 for s in scenario.servers if s.kind != "cloud"]
    base = replace(
        base,
        t_max_s=float(scenario.episode.t_max_s),
        pass_at_100_cloud=float(pass_cloud[0]) if pass_cloud else base.pass_at_100_cloud,
        pass_at_100_edge=float(pass_edge[0]) if pass_edge else base.pass_at_100_edge,
    )
    return offloading_model(servers, cloud, base)
