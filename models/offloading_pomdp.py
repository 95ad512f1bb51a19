"""The offloading problem as a discrete POMDP, written with :mod:`aif_offload.pomdp`.

Copy this file and change the numbers or the levels; ``offloading_model`` returns a
:class:`~aif_offload.pomdp.ModelSpec` that :func:`aif_offload.pomdp.make_agent` turns into a pymdp
agent. The tables are documented in ``docs/models.md`` ("Discrete offloading POMDP (pymdp)").

Hidden factors, per server: its **free compute units** (``free_<server>``: 0 .. the whole-GPU slots
it has, e.g. 0-2 at the cloud, 0-9 at an edge) and what became of the **task last sent there**
(``served_<server>``: none / completed / failed), both set by the ``server`` control: a task sent
to a server with a free unit takes it and completes, one sent to a server with none fails; every
busy unit is released with probability 1 / (the nominal task duration in steps) per step.
Observations, per server: the delay-corrected load report and the agent's own ledger of the tasks
it has in flight there (both in units), and the outcome of the last task (none / completed /
failed: A cannot depend on the action, so the action's effect is carried by ``served_<server>``).

Why this layout (measured, ``docs/models.md``): every failure on ``paper`` is ``out_of_compute``,
so what decides completion is whether the chosen server has a whole GPU free; three load bins
("free / busy / full": 0-1, 2-5, >= 6 free GPUs at an edge) could not tell one free GPU from none,
and the two-step-old report alone misses the cloud's releases (its tasks last ~10 steps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from aif_offload.pomdp import Control, Factor, Modality, ModelSpec

OUTCOME_LEVELS = ("none", "completed", "failed")


@dataclass(frozen=True)
class ServerFacts:
    """What the model needs of one server, all from the nominal view (``server_facts``)."""

    name: str
    units: int
    """Whole-GPU slots of the nominal allocation (the number of GPUs / the largest share)."""
    task_steps: float
    """Nominal duration of one task in environment steps (its compute time / the step)."""
    guidance: float
    """Eq. 11 rewardless guidance of a completed task here: 1 / nominal latency + pass@100."""
    report_noise_units: float
    """Standard deviation of the load report, in units."""


@dataclass(frozen=True)
class OffloadingParams:
    """The numbers of the initial (prior) model; learning refines B and A from experience."""

    guidance_scale: float = 4.0
    """Nats of preference per unit of rewardless guidance (eq. 11: 1/L + pass@100)."""
    failure_penalty: float = 4.0
    """Preference (negative) for a failed task: completion is strongly preferred."""
    release_scale: float = 1.0
    """Multiplies every busy unit's nominal release probability per step (1 / task_steps)."""
    report_noise_floor: float = 0.8
    """Added (in quadrature) to the report noise in units: the corrected report still misses the
    releases of the last step and the rounding of a fraction to units."""
    ledger_noise_units: float = 0.3
    """Standard deviation of the ledger (units free by the agent's own count of its tasks in
    flight, each held for its nominal duration): it knows no other tenants and no speed drift."""
    outcome_floor: float = 0.02
    """Mass mixed into every outcome column (a 'completed' at 0 free units, or a failure with
    some free, stays possible and learnable)."""
    floor: float = 1e-3
    """Mass mixed into every transition and report column, so nothing is impossible (learnable)."""


def _soft(p: np.ndarray, floor: float) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return (1 - floor) * p / p.sum() + floor / p.size


def unit_levels(units: int) -> tuple[str, ...]:
    """Level names of a server with ``units`` slots: "0" .. str(units) free."""
    return tuple(str(k) for k in range(units + 1))


def release_transition(units: int, release_p: float, floor: float) -> np.ndarray:
    """(next, free, took) P(free units next step | free now, whether the last task took one here):
    ``next = free - took + Binomial(units - free, release_p)``; a task finds no unit at 0 free."""
    n = units + 1
    out = np.zeros((n, n, 2))
    for k in range(n):
        busy = units - k
        released = stats.binom.pmf(np.arange(busy + 1), busy, release_p)
        for took in (0, 1):
            start = k - (took if k > 0 else 0)
            column = np.zeros(n)
            column[start : start + busy + 1] = released
            out[:, k, took] = _soft(column, floor)
    return out


def report_likelihood(units: int, noise_units: float, floor: float) -> np.ndarray:
    """(report, free) P(reported units | free units): the free count plus Gaussian noise, rounded
    and clipped to 0 .. units (the environment clips the reported fraction to [0, 1])."""
    n = units + 1
    edges = np.arange(n + 1) - 0.5
    edges[0], edges[-1] = -np.inf, np.inf
    out = np.zeros((n, n))
    for k in range(n):
        cdf = stats.norm.cdf(edges, loc=k, scale=max(noise_units, 1e-6))
        out[:, k] = _soft(np.diff(cdf), floor)
    return out


def served_transition(units: int, floor: float) -> np.ndarray:
    """(next, free, sent_here) P(what became of the task last sent here | free units when it was
    sent, whether this step's task is sent here): "none" if not, else completed iff a unit is free."""
    out = np.zeros((len(OUTCOME_LEVELS), units + 1, 2))
    out[OUTCOME_LEVELS.index("none"), :, 0] = 1.0
    out[OUTCOME_LEVELS.index("completed"), 1:, 1] = 1.0
    out[OUTCOME_LEVELS.index("failed"), 0, 1] = 1.0
    return np.apply_along_axis(_soft, 0, out, floor)


def offloading_model(
    servers: Sequence[ServerFacts], params: OffloadingParams | None = None
) -> ModelSpec:
    """The offloading POMDP for ``servers`` (one :class:`ServerFacts` each)."""
    p = params or OffloadingParams()
    servers = tuple(servers)
    if not servers:
        raise ValueError("servers: need at least one server")
    names = tuple(s.name for s in servers)
    for s in servers:
        if s.units < 1:
            raise ValueError(f"servers: '{s.name}' has units {s.units}, need >= 1")
        if not s.task_steps > 0:
            raise ValueError(f"servers: '{s.name}' has task_steps {s.task_steps}, need > 0")
    controls = [Control("server", names)]
    factors = []
    modalities = []
    for s in servers:
        free, served = f"free_{s.name}", f"served_{s.name}"
        factors += [
            Factor(free, unit_levels(s.units), controls=("server",)),
            Factor(served, OUTCOME_LEVELS, depends_on=(free,), controls=("server",)),
        ]
        modalities += [
            Modality(f"report_{s.name}", unit_levels(s.units), (free,)),
            Modality(f"ledger_{s.name}", unit_levels(s.units), (free,)),
            Modality(f"outcome_{s.name}", OUTCOME_LEVELS, (served,)),
        ]
    spec = ModelSpec("offloading", factors=factors, modalities=modalities, controls=controls)

    for s in servers:
        free, served = f"free_{s.name}", f"served_{s.name}"
        release = min(1.0, p.release_scale / s.task_steps)
        took = release_transition(s.units, release, p.floor)  # (next, free, sent here)
        outcome = served_transition(s.units, p.outcome_floor)  # (next, free, sent here)
        for j, target in enumerate(names):
            here = int(target == s.name)
            spec.B[free][:, :, j] = took[:, :, here]
            # B[served] is (next, served, free, server): the old value of served does not matter.
            spec.B[served][:, :, :, j] = outcome[:, None, :, here]
        spec.set_initial(free, _soft(np.eye(s.units + 1)[-1], 0.05))  # every server starts idle
        spec.set_initial(served, {"none": 1.0})
        noise = float(np.hypot(s.report_noise_units, p.report_noise_floor))
        spec.A[f"report_{s.name}"][:] = report_likelihood(s.units, noise, p.floor)
        spec.A[f"ledger_{s.name}"][:] = report_likelihood(s.units, p.ledger_noise_units, p.floor)
        spec.A[f"outcome_{s.name}"][:] = np.apply_along_axis(
            _soft, 0, np.eye(len(OUTCOME_LEVELS)), p.floor
        )
        spec.set_preference(
            f"outcome_{s.name}",
            {"completed": p.guidance_scale * s.guidance, "failed": -p.failure_penalty},
        )
    return spec


def server_facts(scenario) -> list[ServerFacts]:
    """Each server's slots, nominal task duration, guidance and report noise, from ``scenario``
    (pass the nominal view: nothing here reads the hidden world)."""
    from aif_offload.sim.llm_latency import full_gpu_compute_time_s
    from aif_offload.sim.topology import build_servers

    built = build_servers(scenario)
    tokens = scenario.tokens
    prompt = float(tokens.prompt_median)
    output = 0.5 * (tokens.output_min + tokens.output_max)
    largest_share = float(max(scenario.actions.compute_shares))
    step_s = float(scenario.episode.interarrival_s)
    partial = scenario.observation.mode == "partial"
    facts = []
    for server, profile in zip(scenario.servers, built.profiles, strict=True):
        compute_s = float(full_gpu_compute_time_s(profile, prompt, output)) / largest_share
        units = int(np.floor(server.num_gpus / largest_share + 1e-9))
        noise = scenario.observation.report_noise_std * server.num_gpus if partial else 0.0
        facts.append(
            ServerFacts(
                name=server.name,
                units=units,
                task_steps=max(compute_s / step_s, 1.0),
                guidance=1.0 / compute_s + float(server.pass_at_100),
                report_noise_units=float(noise),
            )
        )
    return facts


def model_for_scenario(scenario, params: OffloadingParams | None = None) -> ModelSpec:
    """The model for a scenario's servers, deadline, latency model and report noise."""
    return offloading_model(server_facts(scenario), params)


# ``@prior=vague`` (``vague_concentrations``): pseudo-observations per column of a learned part that
# starts flat (the nominal prior gives 50 per A column and 20 per B column), and the weight and
# pseudo-observations of the load report's likelihood, which starts as the nominal one mixed with a
# uniform one. Not all flat: with every A and B flat nothing tells one free-unit level from another
# (each level explains the data alike, and learning from a uniform posterior stays uniform), so the
# report, the simulator's reading of the free units whose noise the observation spec states, is kept
# as a weak anchor; it says nothing about the speeds or the other tenants.
VAGUE_COUNTS = 1.0
VAGUE_REPORT_COUNTS = 4.0
VAGUE_REPORT_UNIFORM = 0.5


def vague_concentrations(spec: ModelSpec, pB_scale: float) -> dict[str, np.ndarray]:
    """Dirichlet counts of ``aif-pymdp@prior=vague`` for the arrays of ``spec`` (by name).

    Flat (``VAGUE_COUNTS`` per column): every server's release dynamics ``B[free_<s>]`` (the
    nominal one is a binomial release at 1 / the nominal task duration and no other tenants: the
    speeds and the tenants), its ledger likelihood ``A[ledger_<s>]`` (the ledger holds every task
    for its nominal compute time, so how well it tracks the free units is again the speeds and
    the tenants), and the columns of ``B[served_<s>]`` where the task is sent there (whether it
    completes with a unit free depends on its speed against the deadline). Weak, nominal mixed
    with uniform: ``A[report_<s>]`` (the anchor, see above). Nominal, being bookkeeping the agent
    knows by construction: ``A[outcome_<s>]`` (the outcome it observes is the served state, the
    identity) and the columns of ``B[served_<s>]`` where the task goes elsewhere ("none"); these
    are not in the result, so they keep ``pA_scale * A`` / ``pB_scale * B``. Not learned, so
    nominal: D (every server starts idle) and C (the preferences).
    """
    out: dict[str, np.ndarray] = {}

    def flat(shape) -> np.ndarray:
        return np.full(shape, VAGUE_COUNTS / shape[0])

    servers = spec.controls["server"].levels
    for s in servers:
        free, served = f"free_{s}", f"served_{s}"
        out[free] = flat(spec.B[free].shape)
        out[f"ledger_{s}"] = flat(spec.A[f"ledger_{s}"].shape)
        report = spec.A[f"report_{s}"]
        uniform = np.full(report.shape, 1.0 / report.shape[0])
        mixed = (1 - VAGUE_REPORT_UNIFORM) * report + VAGUE_REPORT_UNIFORM * uniform
        out[f"report_{s}"] = VAGUE_REPORT_COUNTS * mixed
        counts = pB_scale * np.asarray(spec.B[served], dtype=float)  # (next, served, free, server)
        here = servers.index(s)
        counts[..., here] = flat(counts[..., here].shape)
        out[served] = counts
    return out
