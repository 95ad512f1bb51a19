"""A proven upper bound on what any policy can complete in one episode known in advance.

The exact problem (assign every task of an episode, with queueing) is a scheduling problem over the
simulator's dynamics; this module solves a *relaxation* of it exactly, as a 0-1 program (HiGHS
through ``scipy.optimize.milp``), so its optimum bounds every policy from above.

The relaxation, and why every real schedule satisfies it
-------------------------------------------------------
Take any sequence of actions and the set of tasks it completes. For a completed task t with action
a the real latency is ``L = up + there + q + compute + D(d2)``: uplink and propagation to the server,
queueing q >= 0, compute (fixed by the action), then ``D`` = downlink + propagation back at the
distance ``d2`` the terminal has when computing ends. ``D`` is nondecreasing in the distance, and the
terminal moves at constant speed v (billiard reflections keep it), so waiting q can bring it at most
v q closer: ``D(d2) >= D(max(d2_0 - v q, 0))`` with ``d2_0`` the distance without queueing. Hence
``L >= min_{q >= 0} [q + D(max(d2_0 - v q, 0))] + up + there + compute =: L_floor`` (the task only
completes with q < t_max; :func:`latency_floor_s` bounds the minimum on a grid of cells, which is a
valid lower bound because both terms are monotone in q). So:

1. *Deadline.* A completed (t, a) has ``L_floor <= t_max`` (and memory >= its true KV need; both are
   fixed facts of the task).
2. *Holding.* The simulator reserves a task's resources from its arrival until
   ``min(arrival + L, arrival + t_max)`` and frees them at the first arrival at or after that time;
   the optimistic interval ``[arrival, arrival + min(L_floor, t_max))`` is contained in it.
3. *Admission.* A task k is admitted to server j only if, for every resource r, what it asks fits in
   what is left *at its arrival*: ``use_k + sum_{t < k holding at a_k} use_t <= cap_j - tenants_j(a_k)``
   (within the simulator's tolerance). The admitted tasks holding at a_k include the *completed*
   ones whose *optimistic* interval covers a_k (a subset, by 2.), and uses are nonnegative, so::

       y_kj = 1  =>  use_k + sum_{t < k completed on j, a_t + min(L_floor_t, t_max) > a_k} use_t
                     <= cap_j - tenants_j(a_k)

   holds for the completed set of every real schedule. It is written with a big-M that switches it
   off when k is not completed on j (needed with tenants: a server can be oversubscribed by running
   tasks when tenants grow, and then it simply admits nothing new).
4. Tasks for which every processing slot of j is held by tenants at arrival cannot complete on j
   (the simulator makes them wait past their deadline).

Dropped (relaxed): queueing for processing slots, tasks that are admitted but fail (they only use
resources), the downlink's exact dependence on queueing. The relaxation's optimum is therefore >=
the true hindsight optimum, which is >= what any policy (the oracle included) achieves.

Objectives: ``"completion"`` maximises the number of completed tasks with the eq. 14 value as a
tie-break (weight small enough never to trade a completion); ``"reward"`` maximises the eq. 14 sum,
``sum_completed (1/L + pass@100) + failures * failure_reward``, with ``1/L <= 1/L_floor``.
What is reported (:func:`solve`) is the smallest bound found: the simple one (every task that has
a candidate completed, or each task's best value), the LP relaxation's optimum, or HiGHS's dual
bound of the 0-1 program, which stays valid when its time limit stops it. It is the relaxation's
exact optimum when a plan reaches it (``Bound.optimal``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import LinearConstraint, milp
from scipy.sparse import csr_array

from aif_offload.sim import channel, outcome
from aif_offload.sim.mobility import positions_at
from aif_offload.sim.outcome import COMPLETED, DEADLINE_EXCEEDED
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.simulator import EpisodeTasks, action_grid
from aif_offload.sim.topology import Servers

Objective = Literal["completion", "reward"]
OBJECTIVES = ("completion", "reward")
# Admission tolerance of the relaxation: looser than the simulator's (1e-9), so float rounding of
# its running sums can never make a real admission look infeasible here.
TOLERANCE = 1e-6
# Queueing cells for the latency floor: 0, then 1 ms doubling to past any deadline.
_FIRST_CELL_S = 1e-3


@dataclass(frozen=True)
class Candidates:
    """The (task, action) pairs that can complete under the relaxation, after dominance pruning
    (ordered by task)."""

    task: np.ndarray  # (K,) task index
    action: np.ndarray  # (K, 4) server, compute, bandwidth, memory level
    use: np.ndarray  # (K, 3) compute TFLOPS, bandwidth MHz, memory GB
    release_s: np.ndarray  # (K,) arrival + min(latency floor, t_max): end of the optimistic hold
    latency_floor_s: np.ndarray  # (K,)
    value: np.ndarray  # (K,) eq. 14 value of completing minus the failure reward
    arrival_s: np.ndarray  # (N,)
    left: np.ndarray  # (N, 3, S) capacity minus the tenants' use at each arrival
    failure_reward: float

    @property
    def num_tasks(self) -> int:
        return self.arrival_s.size

    @property
    def server(self) -> np.ndarray:
        return self.action[:, 0]


@dataclass(frozen=True)
class Bound:
    """One solve: the proven bound, whether it is the relaxation's optimum, and the plan."""

    objective: Objective
    bound: float  # completions (an integer) or the eq. 14 sum bound
    optimal: bool  # the plan reaches the bound: it is the relaxation's optimum
    method: str  # what gave the bound: "greedy" (the simple bound), "milp" or "lp-relaxation"
    plan: np.ndarray  # (N, 4) planned action per task, -1 rows for tasks the plan drops
    planned_value: float  # the plan's completions or eq. 14 sum in the relaxation
    solve_s: float


def downlink_time_s(
    tasks: EpisodeTasks, servers: Servers, scenario: Scenario, distance_m: np.ndarray
) -> np.ndarray:
    """Downlink plus way back (s) at ``distance_m`` (N, S, C, W, M, ...), as ``outcome.evaluate``."""
    radio, st = scenario.radio, tasks.states
    bandwidth_hz = np.asarray(scenario.actions.bandwidth_mhz)[None, None, None, :, None] * 1e6
    extra = distance_m.ndim - 5
    shape = (slice(None), slice(None), None, None, None) + (None,) * extra
    bandwidth_hz = bandwidth_hz[(...,) + (None,) * extra]
    path_db = st.downlink_slope_db[shape] * np.log10(np.maximum(distance_m, radio.min_distance_m))
    snr = 10.0 ** (
        (st.downlink_budget_db[shape] - path_db - channel.noise_power_dbm(bandwidth_hz, radio))
        / 10.0
    )
    reply = st.reply_bits[(slice(None),) + (None,) * (4 + extra)]
    down_s = reply / (bandwidth_hz * np.log2(1.0 + snr))
    back = servers.backhaul_one_way_s[None, :, None, None, None][(...,) + (None,) * extra]
    return down_s + channel.propagation_delay_s(distance_m) + back


def latency_floor_s(
    tasks: EpisodeTasks, servers: Servers, scenario: Scenario, queue_free: outcome.Outcome
) -> np.ndarray:
    """(N, S, C, W, M) a lower bound on the latency under any queueing (module docstring).

    With cells ``[q_i, q_i+1]`` covering ``[0, t_max]``: ``q + D(d2_0 - v q) >= q_i + D(d2_0 - v
    q_i+1)`` on each, so the minimum over the cells bounds the true minimum from below.
    """
    st = tasks.states
    t_max = float(st.t_max_s.max())
    cells = [0.0, _FIRST_CELL_S]
    while cells[-1] < t_max:
        cells.append(2.0 * cells[-1])
    q = np.asarray(cells)
    speed = np.linalg.norm(st.terminal_velocity_m_s, axis=-1)[:, None, None, None, None]
    motion = (st.terminal_start_m, st.terminal_velocity_m_s, st.terminal_low_m, st.terminal_high_m)
    position = positions_at(
        *(a[:, None, None, None, None] for a in motion), queue_free.compute_end_s
    )
    offset = position - servers.position_m[None, :, None, None, None]
    d2 = np.sqrt(np.einsum("...i,...i->...", offset, offset))
    closer = np.maximum(d2[..., None] - speed[..., None] * q[None, 1:], 0.0)
    floor_d = (q[:-1] + downlink_time_s(tasks, servers, scenario, closer)).min(axis=-1)
    return queue_free.latency_s - downlink_time_s(tasks, servers, scenario, d2) + floor_d


def candidates(
    tasks: EpisodeTasks, servers: Servers, scenario: Scenario, objective: Objective = "reward"
) -> Candidates:
    """Every (task, action) that can complete under the relaxation, dominated ones removed.

    Dominance: if two candidates of one task on one server satisfy ``use_a <= use_b`` (every
    resource) and ``release_a <= release_b`` up to the same set of later arrivals, then replacing
    b by a in any feasible solution keeps every constraint (each coefficient of a is at most b's:
    in its own admission row, and in every later row it appears in, since it covers a subset of the
    arrivals b covers) and the number of completions; with ``value_a >= value_b`` also the eq. 14
    sum. So only undominated candidates are kept: for ``"completion"`` the values are ignored (the
    tie-break then picks among the kept ones; the completion optimum is unchanged), for
    ``"reward"`` they count. Memory is the first case: above the KV need a larger level changes
    nothing but the memory used, so only the smallest completing level is ever kept.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective: unknown '{objective}', allowed: {', '.join(OBJECTIVES)}")
    st = tasks.states
    arrival = st.now_s
    if np.any(np.diff(arrival) < 0):
        raise ValueError("tasks: arrival times must be nondecreasing")
    nvec = np.array([servers.num_servers, *(len(x) for x in _levels(scenario))])
    free = outcome.evaluate(st, servers, scenario, *action_grid(nvec))
    floor = latency_floor_s(tasks, servers, scenario, free)
    shares, bandwidth, memory = (np.asarray(x) for x in _levels(scenario))
    use = np.stack(
        np.broadcast_arrays(
            shares[None, :, None, None] * servers.gpu_tflops[:, None, None, None],
            bandwidth[None, None, :, None],
            memory[None, None, None, :],
        ),
        axis=-1,
    )  # (S, C, W, M, 3)
    left = servers.capacity[None] - tasks.tenant_use  # (N, 3, S)
    t_max = st.t_max_s[:, None, None, None, None]
    ok = (
        ((free.failure == COMPLETED) | (free.failure == DEADLINE_EXCEEDED))
        & (memory[None, None, None, None, :] >= st.kv_need_gb[:, None, None, None, None])
        & (floor <= t_max)
        & (tasks.tenant_slots < servers.max_parallel)[:, :, None, None, None]
        & np.all(
            use[None] <= left.transpose(0, 2, 1)[:, :, None, None, None, :] + TOLERANCE, axis=-1
        )
    )
    # The smallest memory level that completes; larger ones are dominated.
    first = ok & (np.cumsum(ok, axis=-1) == 1)
    task, server, c, w, m = np.nonzero(first)
    action = np.stack([server, c, w, m], axis=1)
    latency = floor[task, server, c, w, m]
    release = arrival[task] + np.minimum(latency, st.t_max_s[task])
    value = 1.0 / latency + servers.pass_at_100[server] - scenario.reward.failure_reward
    # Arrivals after the task's own that its optimistic hold covers: a nested set, so a count.
    covered = np.searchsorted(arrival, release, side="left") - task
    ranked = value if objective == "reward" else np.zeros_like(value)
    keep = _undominated(task, server, use[server, c, w, m], covered, ranked)
    return Candidates(
        task=task[keep],
        action=action[keep],
        use=use[server, c, w, m][keep],
        release_s=release[keep],
        latency_floor_s=latency[keep],
        value=value[keep],
        arrival_s=arrival.copy(),
        left=left,
        failure_reward=float(scenario.reward.failure_reward),
    )


def _levels(scenario: Scenario) -> tuple[tuple[float, ...], ...]:
    actions = scenario.actions
    return actions.compute_shares, actions.bandwidth_mhz, actions.memory_gb


def _undominated(
    task: np.ndarray, server: np.ndarray, use: np.ndarray, covered: np.ndarray, value: np.ndarray
) -> np.ndarray:
    """Mask of candidates no other candidate of the same task and server dominates (ties: the
    first one stays)."""
    keep = np.ones(task.size, dtype=bool)
    group = task * (server.max() + 1) + server
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for members in np.split(order, bounds):
        u, cov, val = use[members], covered[members], value[members]
        weak = (
            np.all(u[:, None, :] <= u[None, :, :], axis=-1)
            & (cov[:, None] <= cov[None, :])
            & (val[:, None] >= val[None, :])
        )  # weak[a, b]: a dominates b weakly
        strict = weak & ~weak.T
        tie = weak & weak.T & (np.arange(members.size)[:, None] < np.arange(members.size)[None, :])
        keep[members] = ~(strict | tie).any(axis=0)
    return keep


def admission_rows(cand: Candidates) -> tuple[csr_array, np.ndarray]:
    """The conditional admission constraints (module docstring, 3.) as ``A x <= b``.

    Row (k, j, r), for a task k with candidates on server j: the earlier candidates on j whose hold
    covers a_k with their use of r, and k's own candidates on j with ``use + M``; the right side is
    ``left(a_k) + M``, so the row binds only when k is completed on j. ``M`` is how much the earlier
    ones can hold beyond ``left(a_k)``. They hold at most ``left(a_t*)``, with t* the latest of them
    completed on j: every other one covering a_k also covers a_t* <= a_k, so t*'s own row bounds
    their sum plus t*'s use. Hence ``M = max(0, max_t left(a_t) - left(a_k))`` over the earlier
    covering tasks (and at most their largest total use minus ``left``) keeps the row valid; it is
    0 without tenants, where every row holds unconditionally. Rows that can never bind are left out.
    """
    n = cand.num_tasks
    rows, cols, vals, rhs = [], [], [], []
    by_server = [np.flatnonzero(cand.server == j) for j in range(cand.left.shape[-1])]
    for j, members in enumerate(by_server):
        if members.size == 0:
            continue
        task, release, use = cand.task[members], cand.release_s[members], cand.use[members]
        for k in range(n):
            own = task == k
            if not own.any():
                continue
            holding = (task < k) & (release > cand.arrival_s[k])
            earlier = np.unique(task[holding])
            for r in range(3):
                left = cand.left[k, r, j] + TOLERANCE
                # The most the earlier ones can hold: per task, its largest covering use, and never
                # more than was left at the latest covering admission (its own row held there).
                most = _per_task_max(task[holding], use[holding, r])
                ceiling = cand.left[earlier, r, j].max(initial=0.0) + TOLERANCE
                big_m = max(0.0, min(most, ceiling) - left)
                if most + use[own, r].max() <= left:
                    continue  # never binds
                row = len(rhs)
                picked = np.concatenate([members[holding], members[own]])
                coef = np.concatenate([use[holding, r], use[own, r] + big_m])
                rows.append(np.full(picked.size, row))
                cols.append(picked)
                vals.append(coef)
                rhs.append(left + big_m)
    if not rhs:
        return csr_array((0, cand.task.size)), np.zeros(0)
    matrix = csr_array(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(rhs), cand.task.size),
    )
    return matrix, np.asarray(rhs)


def _per_task_max(task: np.ndarray, values: np.ndarray) -> float:
    if task.size == 0:
        return 0.0
    most = np.zeros(int(task.max()) + 1)
    np.maximum.at(most, task, values)
    return float(most.sum())


def weights(cand: Candidates, objective: Objective) -> np.ndarray:
    """Objective coefficients (maximised): eq. 14 values, or 1 + a tie-break too small to trade a
    completion (its total over all tasks stays below 1)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective: unknown '{objective}', allowed: {', '.join(OBJECTIVES)}")
    if objective == "reward":
        return cand.value
    most = _per_task_max(cand.task, np.maximum(cand.value, 0.0))
    return 1.0 + cand.value / (2.0 * (most + 1.0))


def solve(cand: Candidates, objective: Objective, *, time_limit_s: float = 10.0) -> Bound:
    """The relaxation's optimum, or a proven bound on it, and the best plan found.

    Three steps, each stopping as soon as a plan reaches the bound: the greedy rules against the
    simple bound (every task with a candidate completed, or each task's best value); the LP
    relaxation (HiGHS), whose optimum is a bound and whose solution ranks the candidates for one
    more greedy pass; then the 0-1 program (HiGHS branch and cut) within ``time_limit_s``, whose dual
    bound is valid even when the limit stops it. The bound is the smallest found, the plan the best.
    ``optimal``: the plan reaches the bound, so the bound is the relaxation's exact optimum.
    """
    started = time.perf_counter()
    n, k = cand.num_tasks, cand.task.size
    offset = n * cand.failure_reward if objective == "reward" else 0.0
    w = weights(cand, objective)
    chosen = best_greedy_plan(cand, objective)
    bound = _whole(_per_task_max(cand.task, np.maximum(w, 0.0)), objective)
    method = "greedy"

    def reached() -> bool:
        return _score(cand, chosen, w, objective) >= bound - 1e-9 * max(1.0, abs(bound))

    def better(mask: np.ndarray) -> np.ndarray:
        return (
            mask
            if _score(cand, mask, w, objective) > _score(cand, chosen, w, objective)
            else chosen
        )

    if not reached():
        one_each = csr_array((np.ones(k), (cand.task, np.arange(k))), shape=(n, k))
        matrix, rhs = admission_rows(cand)
        constraints = [LinearConstraint(one_each, -np.inf, 1.0)]
        if rhs.size:
            constraints.append(LinearConstraint(matrix, -np.inf, rhs))
        options = {"time_limit": time_limit_s, "disp": False}
        lp = milp(
            -w, integrality=np.zeros(k), bounds=(0, 1), constraints=constraints, options=options
        )
        if lp.status == 0 and -float(lp.fun) < bound:
            bound, method = _whole(-float(lp.fun), objective), "lp-relaxation"
            chosen = better(greedy_plan(cand, "lp-guided", priority=lp.x))
        if not reached():
            options = {"time_limit": time_limit_s, "mip_rel_gap": 1e-6, "disp": False}
            result = milp(
                -w, integrality=np.ones(k), bounds=(0, 1), constraints=constraints, options=options
            )
            dual = getattr(result, "mip_dual_bound", None)
            if dual is not None and np.isfinite(dual) and -float(dual) < bound:
                bound, method = _whole(-float(dual), objective), "milp"
            if result.x is not None:
                chosen = better(result.x > 0.5)
    score = _score(cand, chosen, w, objective)
    plan = np.full((n, 4), -1, dtype=np.int64)
    plan[cand.task[chosen]] = cand.action[chosen]
    return Bound(
        objective,
        bound + offset,
        reached(),
        method,
        plan,
        score + offset,
        time.perf_counter() - started,
    )


def _whole(bound: float, objective: Objective) -> float:
    """Completions are whole: a bound on them rounds down (the tie-break adds less than one)."""
    return float(np.floor(bound + 1e-6)) if objective == "completion" else bound


def _score(cand: Candidates, chosen: np.ndarray, w: np.ndarray, objective: Objective) -> float:
    """A plan's objective: its completions, or its eq. 14 value."""
    return float(chosen.sum()) if objective == "completion" else float(w[chosen].sum())


# Greedy rules a task may pick its candidate by, among those that fit what is left at its arrival.
GREEDY_RULES = ("resource-time", "scarcity", "near-best-value")
NEAR_BEST = 0.01  # as the oracle: values within 1 % of the best count as equally good


def greedy_plan(cand: Candidates, rule: str, *, priority: np.ndarray | None = None) -> np.ndarray:
    """A feasible solution of the relaxation, task by task (mask over the candidates).

    Each task takes, among its candidates that fit in what the earlier choices leave at its
    arrival, the one with the least resource-time (``"resource-time"``), the least resource-time
    relative to what is left (``"scarcity"``), as the oracle does the thriftiest within 1 % of the
    best value (``"near-best-value"``), or the largest ``priority`` (``"lp-guided"``: the LP
    relaxation's solution; ties to the least resource-time). It satisfies every row of :func:`admission_rows` (a row
    of a task not placed on j is implied by the rows of the tasks placed there, as argued there).
    """
    if rule not in (*GREEDY_RULES, "lp-guided"):
        raise ValueError(f"rule: unknown '{rule}', allowed: {', '.join(GREEDY_RULES)}, lp-guided")
    if rule == "lp-guided" and (priority is None or priority.shape != cand.task.shape):
        raise ValueError("priority: the lp-guided rule needs one value per candidate")
    n, servers = cand.num_tasks, cand.left.shape[-1]
    chosen = np.zeros(cand.task.size, dtype=bool)
    scale = cand.left.max(axis=0)  # (3, S)
    hold = cand.release_s - cand.arrival_s[cand.task]
    relative = cand.use / np.maximum(scale[:, cand.server].T, 1e-12)
    starts = np.searchsorted(cand.task, np.arange(n + 1))
    for k in range(n):
        mine = np.arange(starts[k], starts[k + 1])
        if mine.size == 0:
            continue
        held = chosen & (cand.release_s > cand.arrival_s[k])
        in_use = np.zeros((servers, 3))
        np.add.at(in_use, cand.server[held], cand.use[held])
        left = cand.left[k].T - in_use  # (S, 3)
        fits = np.all(cand.use[mine] <= left[cand.server[mine]] + TOLERANCE, axis=1)
        if not fits.any():
            continue
        mine = mine[fits]
        if rule == "resource-time":
            score = relative[mine].sum(axis=1) * hold[mine]
        elif rule == "lp-guided":
            score = -priority[mine] + 1e-6 * relative[mine].sum(axis=1) * hold[mine]
        elif rule == "scarcity":
            room = np.maximum(left[cand.server[mine]], 1e-12)
            score = (cand.use[mine] / room).max(axis=1) * hold[mine]
        else:
            value = cand.value[mine]
            near = value >= value.max() - NEAR_BEST * abs(value.max())
            score = np.where(near, relative[mine].sum(axis=1) - 1e-6 * value, np.inf)
        chosen[mine[np.argmin(score)]] = True
    return chosen


def best_greedy_plan(cand: Candidates, objective: Objective) -> np.ndarray:
    """The best of the greedy rules for ``objective``."""
    w = weights(cand, objective)
    plans = [greedy_plan(cand, rule) for rule in GREEDY_RULES]
    return max(plans, key=lambda chosen: _score(cand, chosen, w, objective))
