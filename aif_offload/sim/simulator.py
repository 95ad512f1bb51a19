"""The batched cloud-edge simulator: B independent environments stepped together.

One step dispatches the current task of every environment with the chosen action, records its
outcome, reserves resources and moves to the next task. The true state (reservations, queues, channel
draws) lives here; what an agent sees is built by :meth:`BatchedSimulator.agent_view`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aif_offload.sim import channel, outcome
from aif_offload.sim.llm_latency import full_gpu_compute_time_s, kv_cache_bytes
from aif_offload.sim.mobility import Terminals, positions_at, sample_terminals
from aif_offload.sim.outcome import Outcome, TaskState
from aif_offload.sim.queues import ParallelSlots, Reservations
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.topology import build_servers, model_spec, reservation_slots
from aif_offload.sim.workload import Episode, sample_episode

ACTION_FIELDS = ("server", "compute", "bandwidth", "memory")


@dataclass(frozen=True)
class AgentView:
    """What an agent observes about the current task and the servers (arrays lead with B)."""

    distance_km: np.ndarray  # (B, S) terminal to each server
    remaining_fraction: np.ndarray  # (B, 3, S) reported compute, bandwidth, memory left
    prompt_tokens: np.ndarray  # (B,)
    output_tokens: np.ndarray  # (B,)
    request_kb: np.ndarray  # (B,)
    reply_kb: np.ndarray  # (B,)
    t_max_s: np.ndarray  # (B,)


class BatchedSimulator:
    """B environments of one scenario. Seed each through :meth:`reset`; no global randomness."""

    def __init__(self, scenario: Scenario, batch_size: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size: must be >= 1, got {batch_size}")
        self.scenario = scenario
        self.batch_size = batch_size
        self.servers = build_servers(scenario)
        self._model = model_spec(scenario)
        self._levels = (
            np.asarray(scenario.actions.compute_shares),
            np.asarray(scenario.actions.bandwidth_mhz),
            np.asarray(scenario.actions.memory_gb),
        )
        self.action_nvec = np.array(
            [self.servers.num_servers, *(len(levels) for levels in self._levels)]
        )
        s = self.servers.num_servers
        self.reservations = Reservations.empty(
            batch_size, s, reservation_slots(scenario, self.servers)
        )
        self.slots = ParallelSlots.empty(batch_size, self.servers.max_parallel)
        self.task_index = np.zeros(batch_size, dtype=np.int64)
        self._env = np.arange(batch_size)
        self._rngs: list[np.random.Generator | None] = [None] * batch_size
        self._episode: Episode | None = None
        self._terminals: Terminals | None = None
        self._full_time: np.ndarray | None = None  # (B, N, S)
        self._link_kind: np.ndarray | None = None  # (B, T, S)
        self._reports: np.ndarray | None = None  # (B, N + 1, 3, S) true fractions before each task

    # ----------------------------------------------------------------------------------- reset
    def reset(self, seeds, envs: np.ndarray | None = None) -> None:
        """Start a new episode in ``envs`` (default all) from one integer seed each."""
        envs = self._env if envs is None else np.asarray(envs, dtype=np.int64)
        seeds = np.broadcast_to(np.asarray(seeds, dtype=object), envs.shape)
        for env, seed in zip(envs, seeds, strict=True):
            self._rngs[env] = np.random.default_rng(None if seed is None else int(seed))
        self._new_episodes(envs)

    def _new_episodes(self, envs: np.ndarray) -> None:
        scenario = self.scenario
        terminals, episodes = [], []
        for env in envs:
            rng = self._rngs[env]
            assert rng is not None
            terminals.append(sample_terminals(rng, scenario.terminals))
            episodes.append(sample_episode(rng, scenario, terminals[-1].kind.size))
        if self._episode is None:
            self._allocate(terminals[0], episodes[0])
        for env, terms, ep in zip(envs, terminals, episodes, strict=True):
            self._write_episode(env, terms, ep)
        self.reservations.clear(envs)
        self.slots.clear(envs)
        self.task_index[envs] = 0
        self._reports[envs, 0] = 1.0

    def _allocate(self, terminals: Terminals, episode: Episode) -> None:
        b, n, s = self.batch_size, episode.num_tasks, self.servers.num_servers
        t = terminals.kind.size

        def stack(a: np.ndarray) -> np.ndarray:
            return np.zeros((b, *a.shape[1:]) if a.shape[0] == 1 else (b, *a.shape), a.dtype)

        self._episode = Episode(**{k: stack(v) for k, v in vars(episode).items()})
        self._terminals = Terminals(
            start_m=np.zeros((b, t, 3)),
            velocity_m_s=np.zeros((b, t, 3)),
            low_m=np.zeros((b, t, 3)),
            high_m=np.zeros((b, t, 3)),
            kind=terminals.kind,
        )
        self._full_time = np.zeros((b, n, s))
        self._link_kind = np.zeros((b, t, s), dtype=np.int8)
        self._reports = np.ones((b, n + 1, 3, s))

    def _write_episode(self, env: int, terminals: Terminals, episode: Episode) -> None:
        for key, value in vars(episode).items():
            getattr(self._episode, key)[env] = value[0]
        for key in ("start_m", "velocity_m_s", "low_m", "high_m"):
            getattr(self._terminals, key)[env] = getattr(terminals, key)
        altitude = terminals.start_m[:, 2]
        self._link_kind[env] = channel.link_kind(
            altitude[:, None], self.servers.position_m[None, :, 2]
        )
        prompt, output = episode.prompt_tokens[0], episode.output_tokens[0]
        for j, profile in enumerate(self.servers.profiles):
            self._full_time[env, :, j] = full_gpu_compute_time_s(profile, prompt, output)

    # ------------------------------------------------------------------------------- queries
    @property
    def num_tasks(self) -> int:
        return self._require_episode().num_tasks

    @property
    def done(self) -> np.ndarray:
        """(B,) the episode's tasks have all been dispatched."""
        return self.task_index >= self.num_tasks

    def _require_episode(self) -> Episode:
        if self._episode is None:
            raise RuntimeError("call reset(seeds) before stepping the simulator")
        return self._episode

    def _current(self) -> np.ndarray:
        return np.minimum(self.task_index, self.num_tasks - 1)

    def now_s(self) -> np.ndarray:
        """(B,) issue time of the current task."""
        return self._require_episode().arrival_s[self._env, self._current()]

    def remaining(self) -> np.ndarray:
        """(B, 3, S) true compute TFLOPS, bandwidth MHz and KV memory GB left now."""
        return self.servers.capacity[None] - self.reservations.in_use(self.now_s())

    def task_state(self) -> TaskState:
        """The current task and the true system state: everything an outcome depends on."""
        ep = self._require_episode()
        terms = self._terminals
        env, k = self._env, self._current()
        now = ep.arrival_s[env, k]
        who = ep.terminal[env, k]
        motion = [
            getattr(terms, key)[env, who] for key in ("start_m", "velocity_m_s", "low_m", "high_m")
        ]
        position = positions_at(*motion, now)
        distance = np.linalg.norm(position[:, None, :] - self.servers.position_m[None], axis=-1)
        kind = self._link_kind[env, who]
        sigma = channel.shadowing_std_db(kind, self.scenario.radio)
        prompt, output = ep.prompt_tokens[env, k], ep.output_tokens[env, k]
        tokens = self.scenario.tokens
        kv_gb = kv_cache_bytes(self._model, prompt + output) / 1e9
        return TaskState(
            now_s=now,
            terminal_start_m=motion[0],
            terminal_velocity_m_s=motion[1],
            terminal_low_m=motion[2],
            terminal_high_m=motion[3],
            distance_m=distance,
            link_kind=kind,
            shadowing_up_db=sigma * ep.shadowing_up_z[env, k],
            shadowing_down_db=sigma * ep.shadowing_down_z[env, k],
            request_bits=8.0 * (prompt * tokens.bytes_per_token + tokens.header_bytes),
            reply_bits=8.0 * (output * tokens.bytes_per_token + tokens.header_bytes),
            full_gpu_time_s=self._full_time[env, k],
            kv_need_gb=np.asarray(kv_gb, dtype=float),
            t_max_s=np.full(self.batch_size, self.scenario.episode.t_max_s),
            remaining=self.remaining(),
            earliest_free_s=self.slots.earliest_free_s(),
        )

    def agent_view(self, state: TaskState | None = None) -> AgentView:
        """The agent's observation: exact load now (full) or a noisy, delayed report (partial)."""
        state = self.task_state() if state is None else state
        obs = self.scenario.observation
        truth = state.remaining / self.servers.capacity[None]
        if obs.mode == "full":
            reported = truth
        else:
            k = self._current()
            lagged = np.maximum(k - obs.report_delay_steps, 0)
            past = self._reports[self._env, lagged]
            noise = self._require_episode().report_noise_z[self._env, k] * obs.report_noise_std
            reported = np.clip(past + noise, 0.0, 1.0)
        ep, env, k = self._episode, self._env, self._current()
        return AgentView(
            distance_km=state.distance_m / 1000.0,
            remaining_fraction=reported,
            prompt_tokens=ep.prompt_tokens[env, k].astype(float),
            output_tokens=ep.output_tokens[env, k].astype(float),
            request_kb=state.request_bits / 8000.0,
            reply_kb=state.reply_bits / 8000.0,
            t_max_s=state.t_max_s,
        )

    def action_values(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        """Map integer actions (B, 4) to server index and physical allocations."""
        actions = np.asarray(actions)
        if actions.shape != (self.batch_size, 4):
            raise ValueError(f"actions: expected shape ({self.batch_size}, 4), got {actions.shape}")
        if np.any(actions < 0) or np.any(actions >= self.action_nvec):
            raise ValueError(
                f"actions: every row must satisfy 0 <= a < {self.action_nvec.tolist()} "
                f"({', '.join(ACTION_FIELDS)})"
            )
        shares, bandwidths, memories = self._levels
        return (
            actions[:, 0],
            shares[actions[:, 1]],
            bandwidths[actions[:, 2]],
            memories[actions[:, 3]],
        )

    def evaluate(self, actions: np.ndarray, state: TaskState | None = None) -> Outcome:
        """Outcome the current tasks would have under ``actions``; changes nothing."""
        state = self.task_state() if state is None else state
        return outcome.evaluate(state, self.servers, self.scenario, *self.action_values(actions))

    def evaluate_all(self, state: TaskState | None = None) -> Outcome:
        """Outcome of every action for the current task: arrays (B, S, C, W, M). For the oracle."""
        state = self.task_state() if state is None else state
        s = self.servers.num_servers
        shares, bandwidths, memories = self._levels
        return outcome.evaluate(
            state,
            self.servers,
            self.scenario,
            np.arange(s).reshape(1, s, 1, 1, 1),
            shares.reshape(1, 1, -1, 1, 1),
            bandwidths.reshape(1, 1, 1, -1, 1),
            memories.reshape(1, 1, 1, 1, -1),
        )

    # -------------------------------------------------------------------------------- step
    def step(self, actions: np.ndarray) -> Outcome:
        """Dispatch every environment's current task with ``actions`` (B, 4) and advance."""
        if np.any(self.done):
            raise RuntimeError(
                "an episode is over: reset the finished environments before stepping"
            )
        state = self.task_state()
        server, share, bandwidth, memory = self.action_values(actions)
        result = outcome.evaluate(
            state, self.servers, self.scenario, server, share, bandwidth, memory
        )

        admitted = np.flatnonzero(result.admitted)
        if admitted.size:
            now = state.now_s[admitted]
            abandon = now + state.t_max_s[admitted]
            srv = server[admitted]
            amount = np.stack(
                [
                    share[admitted] * self.servers.gpu_tflops[srv],
                    bandwidth[admitted],
                    memory[admitted],
                ],
                axis=-1,
            )
            release = np.minimum(now + result.latency_s[admitted], abandon)
            self.reservations.reserve(admitted, srv, now, release, amount)
            # A task abandoned while still queued never takes a processing slot.
            start = result.service_start_s[admitted]
            runs = start < abandon
            if runs.any():
                end = np.minimum(result.compute_end_s[admitted], abandon)
                self.slots.occupy(admitted[runs], srv[runs], start[runs], end[runs])

        self.task_index += 1
        nxt = np.minimum(self.task_index, self.num_tasks)
        self._reports[self._env, nxt] = self.remaining() / self.servers.capacity[None]
        return result
