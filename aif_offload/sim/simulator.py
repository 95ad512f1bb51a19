"""The batched cloud-edge simulator: B independent environments stepped together.

One step dispatches the current task of every environment with the chosen action, records its
outcome, reserves resources and moves to the next task. The true state (reservations, queues, channel
draws) lives here; what an agent sees is built by :meth:`BatchedSimulator.agent_view`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aif_offload.sim import channel, outcome
from aif_offload.sim.hidden import draw_hidden, world_generator
from aif_offload.sim.llm_latency import full_gpu_compute_time_s, kv_cache_bytes
from aif_offload.sim.mobility import build_terminals, positions_at, terminal_kinds
from aif_offload.sim.outcome import Outcome, TaskState
from aif_offload.sim.queues import ParallelSlots, Reservations
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.topology import (
    COMPUTE,
    MEMORY,
    Servers,
    build_servers,
    model_spec,
    reservation_slots,
)
from aif_offload.sim.workload import build_episodes, draw_raw, stack_raw

ACTION_FIELDS = ("server", "compute", "bandwidth", "memory")


@dataclass(frozen=True)
class AgentView:
    """What an agent observes about the current task and the servers (arrays lead with B)."""

    distance_km: np.ndarray  # (B, S) terminal to each server
    remaining_fraction: np.ndarray  # (B, 3, S) reported compute, bandwidth, memory left
    prompt_tokens: np.ndarray  # (B,)
    output_tokens: np.ndarray  # (B,) predicted output length (the true one if known at dispatch)
    request_kb: np.ndarray  # (B,)
    reply_kb: np.ndarray  # (B,) predicted reply size
    t_max_s: np.ndarray  # (B,)
    gap_s: np.ndarray  # (B,) time since the previous task (observed only with observation.clock)


@dataclass(frozen=True)
class EpisodeTasks:
    """Every task of one environment's episode, known in advance: for ``hindsight`` only.

    ``states`` is a :class:`TaskState` whose batch is the episode's N tasks, each seen on idle
    servers with no queue (everything left, every slot free), so ``outcome.evaluate`` on it gives
    each task's unloaded, queue-free outcome. The other tenants' path is exogenous, so it is given
    as it will be: their resources (N, 3, S) and processing slots (N, S) at each arrival. Copies;
    ``scenario`` is the true one (hidden world included), ``servers`` its servers.
    """

    scenario: Scenario
    servers: Servers
    states: TaskState
    tenant_use: np.ndarray  # (N, 3, S) compute TFLOPS, bandwidth MHz, memory GB held by tenants
    tenant_slots: np.ndarray  # (N, S) processing slots held by tenants


class BatchedSimulator:
    """B environments of one scenario. Seed each through :meth:`reset`; no global randomness.

    At reset every quantity that does not depend on the agent's actions is computed for the whole
    episode at once (terminal positions at each issue time, d1, link budgets, uplink rates, compute
    times, KV needs, and the hidden world: other tenants' GPUs, true speeds, true output lengths);
    a step gathers the current task's row and applies the action.
    """

    def __init__(self, scenario: Scenario, batch_size: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        self.scenario = scenario
        self.batch_size = batch_size
        self.servers = build_servers(scenario)
        self.model = model_spec(scenario)
        actions = scenario.actions
        self.action_nvec = np.array(
            [
                self.servers.num_servers,
                len(actions.compute_shares),
                len(actions.bandwidth_mhz),
                len(actions.memory_gb),
            ]
        )
        b, s, n = batch_size, self.servers.num_servers, scenario.episode.num_tasks
        w = len(actions.bandwidth_mhz)
        self.num_tasks = n
        self.reservations = Reservations.empty(b, s, reservation_slots(scenario, self.servers))
        self.slots = ParallelSlots.empty(b, self.servers.max_parallel)
        self.task_index = np.zeros(b, dtype=np.int64)
        self._env = np.arange(b)
        self._rngs: list[np.random.Generator | None] = [None] * b
        self._hidden_rngs: list[np.random.Generator | None] = [None] * b
        self._world_seeds: list[int | None] = [None] * b
        self._seeded = False
        self._hidden = scenario.has_hidden_world
        self._tenants = bool(scenario.hidden.tenants)
        # Per-task arrays of the current episode, (B, N, ...).
        self.arrival_s = np.zeros((b, n))
        self.terminal = np.zeros((b, n), dtype=np.int64)
        self.prompt_tokens = np.zeros((b, n), dtype=np.int64)
        self.output_tokens = np.zeros((b, n), dtype=np.int64)
        self._motion = np.zeros((4, b, n, 3))  # start, velocity, low, high of the requester
        self._distance_m = np.zeros((b, n, s))
        self._uplink_bps = np.zeros((b, n, s, w))
        self._down_slope_db = np.zeros((b, n, s))
        self._down_budget_db = np.zeros((b, n, s))
        self._full_time_s = np.zeros((b, n, s))
        self._kv_need_gb = np.zeros((b, n))
        self._request_bits = np.zeros((b, n))
        self._reply_bits = np.zeros((b, n))
        self._report_noise = np.zeros((b, n, 3, s))
        self._reports = np.ones((b, n + 1, 3, s))  # true fractions left before each task
        self._t_max_s = np.full(b, scenario.episode.t_max_s)
        # The hidden world (defaults: none of it, as in ``paper``).
        self.predicted_output_tokens = self.output_tokens
        self._predicted_reply_bits = self._reply_bits
        self._kv_prompt_gb = np.zeros((b, n))
        self._tenant_gpus = np.zeros((b, n, s))
        self._tenant_regime = np.full((b, n, s), -1, dtype=np.int64)
        self._tenant_use = np.zeros((b, n, 3, s))
        self._tenant_slots = np.zeros((b, n, s), dtype=np.int64)
        self._speed_factor = np.ones((b, n, s))
        self._time_factor = np.ones((b, n, s))
        if self._hidden:
            self.predicted_output_tokens = np.zeros((b, n), dtype=np.int64)
            self._predicted_reply_bits = np.zeros((b, n))
        gpus = np.array([sv.num_gpus for sv in scenario.servers], dtype=float)
        self._per_tenant_gpu = np.zeros((3, s))  # what one busy tenant GPU takes
        self._per_tenant_gpu[COMPUTE] = self.servers.gpu_tflops
        self._per_tenant_gpu[MEMORY] = self.servers.capacity[MEMORY] / gpus
        self._slots_per_gpu = self.servers.max_parallel / gpus

    # ----------------------------------------------------------------------------------- reset
    def reset(self, seeds, envs: np.ndarray | None = None, world_seeds=None) -> None:
        """Start a new episode in ``envs`` (default all) from one integer seed each.

        ``world_seeds`` fix each environment's hidden world (its servers' speed factors) for this and
        later episodes; by default an environment keeps the world it had, and its first world is
        that of its first episode seed.
        """
        envs = self._env if envs is None else np.asarray(envs, dtype=np.int64)
        seeds = np.broadcast_to(np.asarray(seeds, dtype=object), envs.shape)
        worlds = (
            None
            if world_seeds is None
            else np.broadcast_to(np.asarray(world_seeds, dtype=object), envs.shape)
        )
        for i, (env, seed) in enumerate(zip(envs, seeds, strict=True)):
            rng = np.random.default_rng(None if seed is None else int(seed))
            self._rngs[env] = rng
            self._hidden_rngs[env] = rng.spawn(1)[0]
            world = None if worlds is None else worlds[i]
            if world is not None:
                self._world_seeds[env] = int(world)
            elif worlds is not None or self._world_seeds[env] is None:
                self._world_seeds[env] = int(rng.bit_generator.seed_seq.entropy)
        self._new_episodes(envs)
        self._seeded = True

    def _new_episodes(self, envs: np.ndarray) -> None:
        scenario, servers = self.scenario, self.servers
        num_terminals = terminal_kinds(scenario.terminals).size
        raw = stack_raw(  # the only per-environment loop: three draws from each own generator
            [
                draw_raw(self._rngs[env], num_terminals, self.num_tasks, servers.num_servers)
                for env in envs
            ]
        )
        terminals = build_terminals(raw.terminal_u, scenario.terminals)
        episodes = build_episodes(raw, scenario, num_terminals)
        arrival, who = episodes.arrival_s, episodes.terminal
        prompt, output = episodes.prompt_tokens, episodes.output_tokens
        row = np.arange(len(envs))[:, None]
        motion = np.stack(
            [
                getattr(terminals, key)[row, who]
                for key in ("start_m", "velocity_m_s", "low_m", "high_m")
            ]
        )  # (4, E, N, 3) motion of each task's requester
        position = positions_at(*motion, arrival)
        distance = np.linalg.norm(position[:, :, None, :] - servers.position_m, axis=-1)
        kind = channel.link_kind(position[..., 2:3], servers.position_m[:, 2])
        sigma = channel.shadowing_std_db(kind, scenario.radio)
        uplink, slope, budget = outcome.link_terms(
            scenario,
            servers,
            distance,
            kind,
            sigma * episodes.shadowing_up_z,
            sigma * episodes.shadowing_down_z,
        )
        tokens = scenario.tokens
        if self._hidden:
            output = self._new_hidden_world(envs, arrival, prompt, output)
        self.arrival_s[envs] = arrival
        self.terminal[envs] = who
        self.prompt_tokens[envs] = prompt
        self.output_tokens[envs] = output
        self._motion[:, envs] = motion
        self._distance_m[envs] = distance
        self._uplink_bps[envs] = uplink
        self._down_slope_db[envs] = slope
        self._down_budget_db[envs] = budget
        self._full_time_s[envs] = np.stack(
            [full_gpu_compute_time_s(p, prompt, output) for p in servers.profiles], axis=-1
        )
        if self._hidden:
            self._full_time_s[envs] *= self._time_factor[envs]
        self._kv_need_gb[envs] = kv_cache_bytes(self.model, prompt + output) / 1e9
        self._request_bits[envs] = 8.0 * (prompt * tokens.bytes_per_token + tokens.header_bytes)
        self._reply_bits[envs] = 8.0 * (output * tokens.bytes_per_token + tokens.header_bytes)
        self._report_noise[envs] = episodes.report_noise_z
        self.reservations.clear(envs)
        self.slots.clear(envs)
        self.task_index[envs] = 0
        self._reports[envs, 0] = 1.0
        if self._tenants:
            idle = np.maximum(servers.capacity[None] - self._tenant_use[envs, 0], 0.0)
            self._reports[envs, 0] = idle / servers.capacity[None]

    def _new_hidden_world(
        self, envs: np.ndarray, arrival: np.ndarray, prompt: np.ndarray, output: np.ndarray
    ) -> np.ndarray:
        """Draw the hidden world of ``envs``; returns the true output lengths."""
        scenario, servers = self.scenario, self.servers
        hidden = draw_hidden(
            scenario,
            servers,
            [self._hidden_rngs[env] for env in envs],
            [world_generator(self._world_seeds[env]) for env in envs],
            arrival,
            prompt,
            output,
        )
        tokens = scenario.tokens
        self.predicted_output_tokens[envs] = hidden.predicted_output_tokens
        self._predicted_reply_bits[envs] = 8.0 * (
            hidden.predicted_output_tokens * tokens.bytes_per_token + tokens.header_bytes
        )
        self._kv_prompt_gb[envs] = kv_cache_bytes(self.model, prompt) / 1e9
        self._tenant_gpus[envs] = hidden.tenant_gpus
        self._tenant_regime[envs] = hidden.tenant_regime
        self._tenant_use[envs] = hidden.tenant_gpus[:, :, None, :] * self._per_tenant_gpu
        self._tenant_slots[envs] = np.rint(hidden.tenant_gpus * self._slots_per_gpu).astype(
            np.int64
        )
        self._speed_factor[envs] = hidden.speed_factor
        self._time_factor[envs] = hidden.time_factor
        return hidden.output_tokens

    # ------------------------------------------------------------------------------- queries
    @property
    def done(self) -> np.ndarray:
        """(B,) the episode's tasks have all been dispatched."""
        return self.task_index >= self.num_tasks

    def _current(self) -> np.ndarray:
        if not self._seeded:
            raise RuntimeError("call reset(seeds) before using the simulator")
        return np.minimum(self.task_index, self.num_tasks - 1)

    def current_terminal(self) -> np.ndarray:
        """(B,) index of the terminal that issues each environment's current task."""
        return self.terminal[self._env, self._current()]

    def now_s(self) -> np.ndarray:
        """(B,) issue time of the current task."""
        return self.arrival_s[self._row()]

    def remaining(self) -> np.ndarray:
        """(B, 3, S) true compute TFLOPS, bandwidth MHz and KV memory GB left now.

        Other tenants' GPUs count as used; while they hold more than the agent's tasks left free
        (tenants are placed first and running tasks are never pre-empted) nothing is left.
        """
        left = self.servers.capacity[None] - self.reservations.in_use.transpose(0, 2, 1)
        if self._tenants:
            left = np.maximum(left - self._tenant_use[self._row()], 0.0)
        return left

    def _earliest_start_s(self) -> np.ndarray:
        """(B, S) when a new task could start: with m slots held by tenants, the (m+1)-th slot
        of the agent's to free up (m = 0: the earliest-finishing task, eq. 8's L_q)."""
        if not self._tenants:
            return self.slots.earliest_free_s()
        held = self._tenant_slots[self._row()]  # (B, S)
        order = np.sort(self.slots.free_at_s, axis=-1)
        width = order.shape[-1]
        start = np.take_along_axis(order, np.minimum(held, width - 1)[..., None], axis=-1)[..., 0]
        # Every slot held by tenants: the task would wait past its deadline (finite, so latencies are).
        abandon = (self.now_s() + self._t_max_s)[:, None]
        return np.where(held < self.servers.max_parallel, start, abandon)

    def truth(self) -> dict[str, np.ndarray]:
        """The hidden state at the current task, for diagnostics and the oracle only (``true_*``)."""
        row = self._row()
        return {
            "true_tenant_gpus": self._tenant_gpus[row],
            "true_tenant_regime": self._tenant_regime[row],
            "true_speed_factor": self._speed_factor[row],
            "true_output_tokens": self.output_tokens[row].astype(float),
        }

    def episode_tasks(self, env: int) -> EpisodeTasks:
        """The whole current episode of environment ``env`` (read-only copies; see EpisodeTasks)."""
        self._current()  # raises before the first reset
        n, row = self.num_tasks, int(env)
        start, velocity, low, high = self._motion[:, row].copy()
        states = TaskState(
            now_s=self.arrival_s[row].copy(),
            terminal_start_m=start,
            terminal_velocity_m_s=velocity,
            terminal_low_m=low,
            terminal_high_m=high,
            distance_m=self._distance_m[row].copy(),
            uplink_rate_bps=self._uplink_bps[row].copy(),
            downlink_slope_db=self._down_slope_db[row].copy(),
            downlink_budget_db=self._down_budget_db[row].copy(),
            request_bits=self._request_bits[row].copy(),
            reply_bits=self._reply_bits[row].copy(),
            full_gpu_time_s=self._full_time_s[row].copy(),
            kv_need_gb=self._kv_need_gb[row].copy(),
            t_max_s=np.full(n, self._t_max_s[row]),
            remaining=np.repeat(self.servers.capacity[None], n, axis=0),
            earliest_free_s=np.full((n, self.servers.num_servers), -np.inf),
            kv_prompt_gb=None
            if self.scenario.observation.output_known
            else self._kv_prompt_gb[row].copy(),
        )
        return EpisodeTasks(
            self.scenario,
            self.servers,
            states,
            self._tenant_use[row].copy(),
            self._tenant_slots[row].copy(),
        )

    def _row(self) -> tuple:
        """Index of every environment's current task: a plain slice when all are in step."""
        k = self._current()
        if (k == k[0]).all():  # the usual case: views instead of gathered copies
            return (slice(None), int(k[0]))
        return (self._env, k)

    def task_state(self) -> TaskState:
        """The current task and the true system state: everything an outcome depends on."""
        row = self._row()
        start, velocity, low, high = self._motion[(slice(None), *row)]
        return TaskState(
            now_s=self.arrival_s[row],
            terminal_start_m=start,
            terminal_velocity_m_s=velocity,
            terminal_low_m=low,
            terminal_high_m=high,
            distance_m=self._distance_m[row],
            uplink_rate_bps=self._uplink_bps[row],
            downlink_slope_db=self._down_slope_db[row],
            downlink_budget_db=self._down_budget_db[row],
            request_bits=self._request_bits[row],
            reply_bits=self._reply_bits[row],
            full_gpu_time_s=self._full_time_s[row],
            kv_need_gb=self._kv_need_gb[row],
            t_max_s=self._t_max_s,
            remaining=self.remaining(),
            earliest_free_s=self._earliest_start_s(),
            kv_prompt_gb=None
            if self.scenario.observation.output_known
            else self._kv_prompt_gb[row],
        )

    def agent_view(self, state: TaskState | None = None) -> AgentView:
        """The agent's observation: exact load now (full) or a noisy, delayed report (partial)."""
        state = self.task_state() if state is None else state
        obs = self.scenario.observation
        env, k = self._env, self._current()
        if obs.mode == "full":
            reported = state.remaining / self.servers.capacity[None]
        else:
            lagged = np.maximum(k - obs.report_delay_steps, 0)
            noise = self._report_noise[env, k] * obs.report_noise_std
            reported = np.clip(self._reports[env, lagged] + noise, 0.0, 1.0)
        gap = self.arrival_s[env, k] - self.arrival_s[env, np.maximum(k - 1, 0)]
        return AgentView(
            distance_km=state.distance_m / 1000.0,
            remaining_fraction=reported,
            prompt_tokens=self.prompt_tokens[env, k].astype(float),
            output_tokens=self.predicted_output_tokens[env, k].astype(float),
            request_kb=state.request_bits / 8000.0,
            reply_kb=self._predicted_reply_bits[env, k] / 8000.0,
            t_max_s=state.t_max_s,
            gap_s=gap,
        )

    def check_actions(self, actions: np.ndarray) -> np.ndarray:
        """Validate integer actions (B, 4): server, compute, bandwidth and memory level."""
        actions = np.asarray(actions)
        if actions.shape != (self.batch_size, 4):
            raise ValueError(f"actions: expected shape ({self.batch_size}, 4), got {actions.shape}")
        if not np.issubdtype(actions.dtype, np.integer):
            if not np.issubdtype(actions.dtype, np.number) or not np.all(
                np.isfinite(actions) & (actions == np.round(actions))
            ):
                raise ValueError("actions: must be whole numbers (level indices)")
            actions = actions.astype(np.int64)
        if np.any(actions < 0) or np.any(actions >= self.action_nvec):
            raise ValueError(
                f"actions: every row must satisfy 0 <= a < {self.action_nvec.tolist()} "
                f"({', '.join(ACTION_FIELDS)})"
            )
        return actions

    def evaluate(self, actions: np.ndarray, state: TaskState | None = None) -> Outcome:
        """Outcome the current tasks would have under ``actions``; changes nothing."""
        state = self.task_state() if state is None else state
        actions = self.check_actions(actions)
        return outcome.evaluate(state, self.servers, self.scenario, *actions.T)

    def evaluate_all(self, state: TaskState | None = None) -> Outcome:
        """Outcome of every action for the current task: arrays (B, S, C, W, M). For the oracle."""
        state = self.task_state() if state is None else state
        return outcome.evaluate(state, self.servers, self.scenario, *action_grid(self.action_nvec))

    # -------------------------------------------------------------------------------- step
    def step(self, actions: np.ndarray, state: TaskState | None = None) -> Outcome:
        """Dispatch every environment's current task with ``actions`` (B, 4) and advance.

        ``state`` may pass the :meth:`task_state` already computed for this step (saves work).
        """
        if np.any(self.done):
            raise RuntimeError(
                "an episode is over: reset the finished environments before stepping"
            )
        actions = self.check_actions(actions)
        state = self.task_state() if state is None else state
        result = outcome.evaluate(state, self.servers, self.scenario, *actions.T)

        admitted = np.flatnonzero(result.admitted)
        if admitted.size:
            now = state.now_s[admitted]
            abandon = now + state.t_max_s[admitted]
            server = actions[admitted, 0]
            levels = self.scenario.actions
            amount = np.stack(
                [
                    np.asarray(levels.compute_shares)[actions[admitted, 1]]
                    * self.servers.gpu_tflops[server],
                    np.asarray(levels.bandwidth_mhz)[actions[admitted, 2]],
                    np.asarray(levels.memory_gb)[actions[admitted, 3]],
                ],
                axis=-1,
            )
            release = np.minimum(now + result.latency_s[admitted], abandon)
            self.reservations.reserve(admitted, server, release, amount)
            # A task abandoned while still queued never takes a processing slot.
            start = result.service_start_s[admitted]
            runs = start < abandon
            if runs.any():
                end = np.minimum(result.compute_end_s[admitted], abandon)
                self.slots.occupy(admitted[runs], server[runs], start[runs], end[runs])

        self.task_index += 1
        self.reservations.release(self.now_s())
        nxt = np.minimum(self.task_index, self.num_tasks)
        self._reports[self._env, nxt] = self.remaining() / self.servers.capacity[None]
        return result


def action_grid(nvec: np.ndarray) -> tuple[np.ndarray, ...]:
    """Index arrays that broadcast to every action (1, S, C, W, M)."""
    return tuple(
        np.arange(n).reshape((1, *(n if i == d else 1 for i in range(4))))
        for d, n in enumerate(nvec)
    )
