"""An episode's precompute (the reset) as pure JAX: raw draws in, :class:`Episode` out.

Randomness and transforms are split as in the NumPy core: :class:`Draws` holds every random number
of one episode; :func:`numpy_draws` replays exactly the draws a :class:`BatchedSimulator` makes for a
seed (so both cores can be fed the same numbers), :meth:`EpisodeBuilder.draw` makes them from JAX
keys, and :meth:`EpisodeBuilder.build` is the deterministic part (arrivals, tokens, terminals,
links, compute times, the hidden world), a pure function of the draws.

Other tenants' paths are sampled by uniformisation, as in :mod:`aif_offload.sim.tenants`. In JAX the
number of jumps per gap needs a fixed cap: :func:`jump_cap` picks the smallest cap whose Poisson
tail per gap is below ``JUMP_TAIL`` (for the largest gap the scenario can produce; for Poisson
arrivals the count over an exponential gap is geometric). A drawn count above the cap is clipped
and counted in ``Episode.tenant_jumps_clipped``, never silently.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtri
from scipy import stats

from aif_offload.sim.channel import AIR_ALTITUDE_M
from aif_offload.sim.hidden import world_generator
from aif_offload.sim.jax_core import Episode, JaxCore
from aif_offload.sim.llm_latency import kv_cache_bytes_per_token, weights_bytes
from aif_offload.sim.mobility import AIR, FIXED, TERMINAL_UNIFORMS, terminal_kinds
from aif_offload.sim.scenario import Scenario
from aif_offload.sim.service_times import draw_service_randoms
from aif_offload.sim.tenants import (
    _uniformised,
    draw_tenant_randoms,
    stationary_distribution,
    tenant_chain,
)
from aif_offload.sim.workload import TASK_UNIFORMS, build_episodes, draw_raw, load_trace

JUMP_TAIL = 1e-12  # P(more jumps than the cap in one gap)


def _normal(u: jax.Array) -> jax.Array:
    """Standard normals from uniforms in [0, 1) (the extreme tails clipped at float resolution)."""
    tiny = jnp.finfo(u.dtype).eps
    return ndtri(jnp.clip(u, tiny, 1.0 - tiny))


class Draws(NamedTuple):
    """Every random number of one episode (H servers with tenants, J the jump cap)."""

    terminal_u: jax.Array  # (T, 6)
    task_u: jax.Array  # (N, 4)
    task_z: jax.Array  # (N, 1 + 5 S)
    window_u: jax.Array  # ()
    token_z: jax.Array  # (N, 2) true and predicted output lengths
    tenant_start_u: jax.Array  # (H,)
    tenant_jumps: jax.Array  # (H, N) int
    tenant_jump_u: jax.Array  # (H, N, J)
    speed_z: jax.Array  # (S,) from the world's stream
    drift_z: jax.Array  # (N, S)
    throttle_u: jax.Array  # (N, S)
    service_z: jax.Array  # (N, S)


def _tenant_servers(scenario: Scenario) -> list[tuple[int, object]]:
    return [
        (j, tenant_chain(scenario.hidden.tenants[s.name], s.num_gpus))
        for j, s in enumerate(scenario.servers)
        if s.name in scenario.hidden.tenants
    ]


def _largest_gap_s(scenario: Scenario) -> float:
    """The largest gap between two arrivals (per_step and trace; poisson is handled apart)."""
    episode = scenario.episode
    n, gap = episode.num_tasks, episode.interarrival_s
    if episode.arrival != "trace":
        return gap
    gaps = np.diff(load_trace(episode.trace).arrival_s)
    # Every window the reset can pick, rescaled to the scenario's mean gap, as workload does.
    span = max(1, gaps.size - n)
    index = (np.arange(span)[:, None] + np.arange(n)) % gaps.size
    windows = gaps[index]
    mean = windows.mean(axis=1)
    scaled = np.where(mean > 0, windows.max(axis=1) * gap / np.where(mean > 0, mean, 1.0), gap)
    return float(scaled.max())


def jump_cap(scenario: Scenario, tail: float = JUMP_TAIL) -> int:
    """Smallest J with P(jumps in one gap > J) <= ``tail`` on every server with tenants."""
    chains = _tenant_servers(scenario)
    if not chains:
        return 1
    rate = max(_uniformised(chain)[0] for _, chain in chains)
    if scenario.episode.arrival == "poisson":
        # Poisson(rate g) with g ~ Exp(mean m): P(count > J) = q^(J+1), q = rate m / (1 + rate m).
        mean = rate * scenario.episode.interarrival_s
        q = mean / (1.0 + mean)
        return max(1, int(np.ceil(np.log(tail) / np.log(q))) - 1)
    mu = rate * _largest_gap_s(scenario)
    return max(1, int(stats.poisson.isf(tail, mu)))


def numpy_draws(scenario: Scenario, seed: int, world_seed: int | None = None, cap: int = 0):
    """The draws :class:`BatchedSimulator` makes for one episode seeded ``seed`` (NumPy arrays).

    ``world_seed`` defaults to ``seed`` (the simulator's first-episode default); ``cap`` pads the
    jump uniforms to at least that width.
    """
    servers = scenario.num_servers
    terminals = terminal_kinds(scenario.terminals).size
    n = scenario.episode.num_tasks
    rng = np.random.default_rng(seed)
    hidden_rng = rng.spawn(1)[0]
    raw = draw_raw(rng, terminals, n, servers)
    chains = _tenant_servers(scenario)
    token_z = np.zeros((n, 2))
    tenant = [(np.zeros(0), np.zeros((0, n), np.int64), [])]
    service = [np.zeros(servers), *(np.zeros((n, servers)) for _ in range(3))]
    if scenario.has_hidden_world:
        arrival = build_episodes(raw, scenario, terminals).arrival_s
        token_z = hidden_rng.standard_normal((n, 2))
        gaps = np.diff(arrival, axis=1, prepend=arrival[:, :1])
        drawn = [draw_tenant_randoms([hidden_rng], chain, gaps) for _, chain in chains]
        if scenario.hidden.service.varies:
            world = world_generator(seed if world_seed is None else world_seed)
            got = draw_service_randoms([hidden_rng], [world], n, servers)
            service = [got.speed_z[0], got.drift_z[0], got.throttle_u[0], got.task_z[0]]
        width = max([cap, 1, *(d.jump_u.shape[-1] for d in drawn)])
        jump_u = np.zeros((len(drawn), n, width))
        for h, d in enumerate(drawn):
            jump_u[h, :, : d.jump_u.shape[-1]] = d.jump_u[0]
        tenant = [
            (
                np.array([d.start_u[0] for d in drawn]),
                np.array([d.jumps[0] for d in drawn]).reshape(len(drawn), n),
                jump_u,
            )
        ]
    start_u, jumps, jump_u = tenant[0]
    if not len(jump_u):
        jump_u = np.zeros((0, n, max(cap, 1)))
    return Draws(
        raw.terminal_u[0],
        raw.task_u[0],
        raw.task_z[0],
        raw.window_u[0],
        token_z,
        start_u,
        jumps,
        jump_u,
        *service,
    )


class EpisodeBuilder:
    """The reset of one scenario: :meth:`draw` from keys, :meth:`build` from draws (both pure)."""

    def __init__(self, core: JaxCore, *, cap: int | None = None) -> None:
        self.core = core
        sc = core.scenario
        self.scenario = sc
        self.kinds = terminal_kinds(sc.terminals)
        self.chains = _tenant_servers(sc)
        self.cap = jump_cap(sc) if cap is None else cap
        self.num_tasks = sc.episode.num_tasks
        if sc.episode.arrival == "trace" or sc.episode.tokens == "trace":
            self.trace = load_trace(sc.episode.trace)

    # ------------------------------------------------------------------------------ draws
    def draw(self, key: jax.Array, world_key: jax.Array) -> Draws:
        """Fresh draws from JAX keys (``world_key``: the hidden server speeds of a run).

        All of an episode's numbers come from one call of the key's generator, cut into the
        fields (a generator call costs seconds of compile time on CPU; eleven of them dominated).
        Normals are the inverse normal CDF of uniforms, as ``jax.random.normal`` does.
        """
        n, s, t, h = self.num_tasks, self.scenario.num_servers, self.kinds.size, len(self.chains)
        shapes = {
            "terminal_u": (t, TERMINAL_UNIFORMS),
            "task_u": (n, TASK_UNIFORMS),
            "task_z": (n, 1 + 5 * s),
            "window_u": (),
            "token_z": (n, 2),
            "tenant_start_u": (h,),
            "tenant_count_u": (h, n),
            "tenant_jump_u": (h, n, self.cap),
            "drift_z": (n, s),
            "throttle_u": (n, s),
            "service_z": (n, s),
        }
        sizes = [int(np.prod(shape)) for shape in shapes.values()]
        flat = jax.random.uniform(key, (sum(sizes),))
        parts = dict(
            zip(
                shapes,
                (
                    piece.reshape(shape)
                    for piece, shape in zip(
                        jnp.split(flat, np.cumsum(sizes)[:-1]), shapes.values(), strict=True
                    )
                ),
                strict=True,
            )
        )
        for name in shapes:
            if name.endswith("_z"):
                parts[name] = _normal(parts[name])
        arrival = self._arrival_s(parts["task_u"], parts["window_u"])
        gaps = jnp.diff(arrival, prepend=arrival[:1])
        rates = jnp.array([_uniformised(c)[0] for _, c in self.chains]).reshape(h, 1)
        counts = self._poisson_counts(parts.pop("tenant_count_u"), rates * gaps[None])
        return Draws(
            **parts,
            tenant_jumps=counts,
            speed_z=_normal(jax.random.uniform(world_key, (s,))),
        )

    def _poisson_counts(self, u: jax.Array, mean: jax.Array) -> jax.Array:
        """Poisson(mean) counts by inversion of uniforms ``u`` over 0 .. cap; cap + 1 stands for
        "more than cap" (clipped and counted by :meth:`build`)."""
        j = jnp.arange(self.cap + 1, dtype=mean.dtype)
        safe = jnp.maximum(mean, 1e-300)[..., None]
        log_pmf = j * jnp.log(safe) - safe - jax.lax.lgamma(j + 1.0)
        pmf = jnp.where(mean[..., None] > 0, jnp.exp(log_pmf), (j == 0).astype(mean.dtype))
        cdf = jnp.cumsum(pmf, axis=-1)
        return jnp.sum(cdf < u[..., None], axis=-1)

    # ------------------------------------------------------------------------------ build
    def _arrival_s(self, task_u: jax.Array, window_u: jax.Array) -> jax.Array:
        episode = self.scenario.episode
        n, gap = self.num_tasks, episode.interarrival_s
        if episode.arrival == "per_step":
            return jnp.arange(n, dtype=task_u.dtype) * gap
        if episode.arrival == "poisson":
            gaps = -jnp.log1p(-task_u[:, 2]) * gap
        else:
            trace_gaps = jnp.asarray(np.diff(self.trace.arrival_s), task_u.dtype)
            m = trace_gaps.size
            start = jnp.floor(window_u * max(1, m - n)).astype(jnp.int32)
            gaps = trace_gaps[(start + jnp.arange(n)) % m]
            mean = gaps.mean()
            gaps = jnp.where(mean > 0, gaps * gap / jnp.where(mean > 0, mean, 1.0), gap)
        return jnp.concatenate([jnp.zeros(1, task_u.dtype), jnp.cumsum(gaps[: n - 1])])

    def _tokens(self, draws: Draws) -> tuple[jax.Array, jax.Array]:
        sc = self.scenario
        context = sc.model.max_context_tokens
        if sc.episode.tokens == "humaneval":
            cfg = sc.tokens
            prompt = jnp.rint(cfg.prompt_median * jnp.exp(cfg.prompt_sigma * draws.task_z[:, 0]))
            prompt = jnp.clip(prompt, cfg.prompt_min, cfg.prompt_max)
            span = cfg.output_max - cfg.output_min + 1
            output = cfg.output_min + jnp.floor(draws.task_u[:, 1] * span)
        else:
            size = self.trace.prompt_tokens.size
            row = jnp.floor(draws.task_u[:, 3] * size).astype(jnp.int32)
            prompt = jnp.asarray(self.trace.prompt_tokens, draws.task_u.dtype)[row]
            output = jnp.asarray(self.trace.output_tokens, draws.task_u.dtype)[row]
        prompt = jnp.clip(prompt, 1, context - 1)
        return prompt, jnp.clip(output, 1, context - prompt)

    def _terminals(self, u: jax.Array) -> tuple[jax.Array, ...]:
        cfg = self.scenario.terminals
        air = self.kinds == AIR
        t = self.kinds.size
        low = np.zeros((t, 3))
        high = np.zeros((t, 3))
        high[:, 0], high[:, 1] = cfg.area_m
        low[:, 2] = np.where(air, cfg.air_altitude_m[0], cfg.ground_height_m)
        high[:, 2] = np.where(air, cfg.air_altitude_m[1], cfg.ground_height_m)
        low, high = jnp.asarray(low, u.dtype), jnp.asarray(high, u.dtype)
        start = low + u[:, :3] * (high - low)

        def between(bounds, x):
            return bounds[0] + x * (bounds[1] - bounds[0])

        speed = jnp.where(
            air, between(cfg.air_speed_m_s, u[:, 3]), between(cfg.ground_speed_m_s, u[:, 3])
        )
        speed = jnp.where(self.kinds == FIXED, 0.0, speed)
        heading = 2.0 * jnp.pi * u[:, 4]
        climb = jnp.where(air, between((-0.2, 0.2), u[:, 5]), 0.0)
        velocity = jnp.stack(
            [speed * jnp.cos(heading), speed * jnp.sin(heading), speed * climb], axis=-1
        )
        return start, velocity, low, high

    def _links(self, position: jax.Array, z_up: jax.Array, z_down: jax.Array):
        """Distances d1 (N, S), uplink rates (N, S, W), downlink slope and budget (N, S)."""
        sc, sv = self.scenario, self.core.servers
        radio = sc.radio
        offset = position[:, None, :] - jnp.asarray(sv.position_m)
        distance = jnp.sqrt(jnp.sum(offset * offset, axis=-1))
        kind = (position[:, 2:3] > AIR_ALTITUDE_M).astype(jnp.int32) + (
            sv.position_m[:, 2] > AIR_ALTITUDE_M
        ).astype(np.int32)
        intercepts = jnp.array(
            [
                radio.gg_intercept_db - 3.0 * radio.gg_slope_db,
                radio.ga_intercept_db,
                radio.aa_intercept_db,
            ]
        )
        slopes = jnp.array([radio.gg_slope_db, 10.0 * radio.ga_alpha, 10.0 * radio.aa_alpha])
        sigmas = jnp.array([radio.shadowing_gg_db, radio.shadowing_ga_db, radio.shadowing_aa_db])
        intercept, slope, sigma = intercepts[kind], slopes[kind], sigmas[kind]
        path = intercept + slope * jnp.log10(jnp.maximum(distance, radio.min_distance_m))
        gain_up = radio.antenna_gain_db - path - sigma * z_up
        bandwidth_hz = jnp.asarray(sc.actions.bandwidth_mhz) * 1e6
        noise = radio.noise_psd_dbm_hz + 10.0 * jnp.log10(bandwidth_hz) + radio.noise_figure_db
        snr = 10.0 ** ((sc.terminals.tx_power_dbm + gain_up[..., None] - noise) / 10.0)
        uplink = bandwidth_hz * jnp.log2(1.0 + snr)
        budget = jnp.asarray(sv.tx_power_dbm) + radio.antenna_gain_db - intercept - sigma * z_down
        return distance, uplink, slope, budget

    def _full_gpu_time_s(self, prompt: jax.Array, output: jax.Array) -> jax.Array:
        """Roofline prefill + decode on a whole GPU of each server (N, S), as llm_latency."""
        profiles = self.core.servers.profiles
        w = np.array([weights_bytes(p.model) for p in profiles])
        k = np.array([kv_cache_bytes_per_token(p.model) for p in profiles])
        bw = np.array([p.gpu.memory_bandwidth_gbps * 1e9 * p.memory_efficiency for p in profiles])
        flops = np.array([p.gpu.peak_fp16_tflops * 1e12 * p.compute_efficiency for p in profiles])
        params = np.array([p.model.num_params for p in profiles])
        slowdown = np.array([p.framework_slowdown for p in profiles])
        p, n = prompt[:, None], output[:, None]
        prefill = jnp.maximum(w / bw, 2.0 * params * p / flops) * slowdown
        c = 2.0 * params / flops
        j = jnp.clip(jnp.ceil((c * bw - w) / k - p), 0.0, n)
        steps = n - j
        memory_bytes = steps * (w + k * p) + k * steps * (n - 1.0 + j) / 2.0
        return prefill + (j * c + memory_bytes / bw) * slowdown

    def _tenant_tables(self) -> tuple[np.ndarray, ...]:
        """Jump and start CDFs of every chain, padded to the largest (unreachable states: 1)."""
        size = max(chain.size for _, chain in self.chains)
        h = len(self.chains)
        jump = np.ones((h, size, size))
        start = np.ones((h, size))
        for i, (_, chain) in enumerate(self.chains):
            _, cdf = _uniformised(chain)
            k = chain.size
            jump[i, :k, :k] = cdf
            jump[i, :k, k:] = cdf[:, -1:]
            start[i, :k] = np.cumsum(stationary_distribution(chain))
            start[i, k:] = start[i, k - 1]
        sizes = np.array([chain.size for _, chain in self.chains])
        return jump, start, sizes

    def _tenants(self, draws: Draws, dtype) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Busy GPUs and regimes of every server with tenants at each arrival (as
        :func:`aif_offload.sim.tenants.sample_path`, all servers in one scan)."""
        n, s = self.num_tasks, self.scenario.num_servers
        gpus = jnp.zeros((n, s), dtype)
        regime = jnp.full((n, s), -1, jnp.int32)
        if not self.chains:
            return gpus, regime, jnp.zeros((), jnp.int32)
        jump_cdf, start_cdf, sizes = self._tenant_tables()
        jump_cdf, start_cdf = jnp.asarray(jump_cdf, dtype), jnp.asarray(start_cdf, dtype)
        rows = jnp.arange(len(self.chains))

        def pick(cdf, u):  # (H, K) cdf rows, (H,) uniforms: inverse-CDF draw per chain
            return jnp.minimum(jnp.sum(cdf < (u * cdf[:, -1])[:, None], axis=-1), sizes - 1)

        def gap(state, inputs):
            count, uniforms = inputs  # (H,), (H, J)

            def jump(i, st):
                return jnp.where(i < count, pick(jump_cdf[rows, st], uniforms[:, i]), st)

            state = jax.lax.fori_loop(0, self.cap, jump, state, unroll=min(self.cap, 16))
            return state, state

        first = pick(start_cdf, draws.tenant_start_u)
        inputs = (draws.tenant_jumps.T, jnp.swapaxes(draws.tenant_jump_u, 0, 1))
        _, path = jax.lax.scan(gap, first, inputs)  # (N, H)
        levels = np.array([chain.gpus + 1 for _, chain in self.chains])
        columns = np.array([j for j, _ in self.chains])
        gpus = gpus.at[:, columns].set((path % levels).astype(dtype))
        regime = regime.at[:, columns].set((path // levels).astype(jnp.int32))
        clipped = jnp.sum(draws.tenant_jumps > self.cap).astype(jnp.int32)
        return gpus, regime, clipped

    def _service(self, draws: Draws, arrival: jax.Array) -> tuple[jax.Array, jax.Array]:
        cfg = self.scenario.hidden.service
        gaps = jnp.diff(arrival, prepend=arrival[:1])[:, None]
        keep = jnp.exp(-gaps / cfg.drift_time_s)
        shock = cfg.drift_sigma * jnp.sqrt(1.0 - keep**2)
        on_rate, off_rate = cfg.throttle_per_s, 1.0 / cfg.throttle_mean_s
        total = on_rate + off_rate
        share_on = on_rate / total
        settle = 1.0 - jnp.exp(-total * gaps)
        stay_on = 1.0 - off_rate / total * settle
        become_on = share_on * settle

        def advance(carry, inputs):
            x, on = carry
            a, b, z, u, p_on, p_off = inputs
            x = a * x + b * z
            on = u < jnp.where(on, p_on, p_off)
            return (x, on), (x, on)

        first = (cfg.drift_sigma * draws.drift_z[0], draws.throttle_u[0] < share_on)
        inputs = (keep, shock, draws.drift_z, draws.throttle_u, stay_on, become_on)
        _, (x, on) = jax.lax.scan(advance, first, jax.tree.map(lambda v: v[1:], inputs))
        log_drift = jnp.concatenate([first[0][None], x])
        throttled = jnp.concatenate([first[1][None], on])
        base = jnp.exp(cfg.speed_sigma * draws.speed_z)[None]
        speed = base * jnp.exp(log_drift) * jnp.where(throttled, cfg.throttle_speed, 1.0)
        return speed, jnp.exp(cfg.task_sigma * draws.service_z) / speed

    def _outputs(self, draws: Draws, prompt: jax.Array, drawn: jax.Array):
        """True and predicted output lengths (see :mod:`aif_offload.sim.hidden`)."""
        sc = self.scenario
        tokens, obs = sc.tokens, sc.observation
        true = drawn
        if tokens.output_distribution == "lognormal":
            true = jnp.rint(
                tokens.output_median * jnp.exp(tokens.output_sigma * draws.token_z[:, 0])
            )
            true = jnp.clip(true, tokens.output_min, tokens.output_max)
            true = jnp.clip(true, 1, sc.model.max_context_tokens - prompt)
        if obs.output_prediction == "exact":
            return true, true
        if obs.output_prediction == "noisy":
            noisy = jnp.rint(true * jnp.exp(obs.prediction_sigma * draws.token_z[:, 1]))
            return true, jnp.maximum(1.0, noisy)
        ratio = obs.band_ratio
        band = jnp.floor(jnp.log(true) / np.log(ratio) + 1e-9)
        return true, jnp.maximum(1.0, jnp.rint(ratio ** (band + 0.5)))

    def build(self, draws: Draws) -> Episode:
        """The episode's arrays from its draws (deterministic; one environment)."""
        sc, core = self.scenario, self.core
        n, s = self.num_tasks, sc.num_servers
        dtype = draws.task_u.dtype
        arrival = self._arrival_s(draws.task_u, draws.window_u)
        prompt, output = self._tokens(draws)
        who = jnp.floor(draws.task_u[:, 0] * self.kinds.size).astype(jnp.int32)
        start, velocity, low, high = (x[who] for x in self._terminals(draws.terminal_u))
        unfolded = start + velocity * arrival[:, None]
        span = jnp.maximum(high - low, 1e-12)
        phase = jnp.mod(unfolded - low, 2.0 * span)
        position = low + jnp.where(phase > span, 2.0 * span - phase, phase)
        z = draws.task_z
        distance, uplink, slope, budget = self._links(
            position, z[:, 1 : 1 + s], z[:, 1 + s : 1 + 2 * s]
        )
        predicted = output
        tenant_gpus = jnp.zeros((n, s), dtype)
        regime = jnp.full((n, s), -1, jnp.int32)
        clipped = jnp.zeros((), jnp.int32)
        speed = time_factor = jnp.ones((n, s), dtype)
        if sc.has_hidden_world:
            output, predicted = self._outputs(draws, prompt, output)
            tenant_gpus, regime, clipped = self._tenants(draws, dtype)
            if sc.hidden.service.varies:
                speed, time_factor = self._service(draws, arrival)
        tokens = sc.tokens
        per_token = kv_cache_bytes_per_token(core.servers.profiles[0].model)
        full_time = self._full_gpu_time_s(prompt, output)
        if sc.has_hidden_world:
            full_time = full_time * time_factor
        return Episode(
            arrival_s=arrival,
            terminal=who,
            start_m=start,
            velocity_m_s=velocity,
            low_m=low,
            high_m=high,
            distance_m=distance,
            uplink_bps=uplink,
            down_slope_db=slope,
            down_budget_db=budget,
            request_bits=8.0 * (prompt * tokens.bytes_per_token + tokens.header_bytes),
            reply_bits=8.0 * (output * tokens.bytes_per_token + tokens.header_bytes),
            predicted_reply_bits=8.0 * (predicted * tokens.bytes_per_token + tokens.header_bytes),
            prompt_tokens=prompt,
            output_tokens=output,
            predicted_output_tokens=predicted,
            full_time_s=full_time,
            kv_need_gb=(prompt + output) * per_token / 1e9,
            kv_prompt_gb=prompt * per_token / 1e9 if sc.has_hidden_world else jnp.zeros(n, dtype),
            report_noise_z=z[:, 1 + 2 * s :].reshape(n, 3, s),
            tenant_use=tenant_gpus[:, None, :] * jnp.asarray(core.per_tenant_gpu, dtype),
            tenant_slots=jnp.rint(tenant_gpus * jnp.asarray(core.slots_per_gpu)).astype(jnp.int32),
            tenant_gpus=tenant_gpus,
            tenant_regime=regime,
            speed_factor=speed,
            tenant_jumps_clipped=clipped,
        )
