"""Other tenants on a server: a regime-switching birth-death chain over the GPUs they hold.

The state of one server is (regime r, busy GPUs n). In regime r jobs of other tenants arrive at rate
lambda_r and each holds one GPU for an exponential time of mean ``mean_job_s`` (death rate n / mean);
an arrival that finds all ``max_gpus`` busy is lost, so within a regime this is the M/M/c/c (Erlang
loss) queue, whose stationary law is the truncated Poisson pi(n) ~ rho^n / n!, rho = lambda_r x mean.
The regime leaves r after an exponential dwell of mean ``mean_dwell_s`` for another one chosen
uniformly, so the regimes' stationary shares are proportional to their mean dwell times.

Paths are sampled exactly at the task arrival times by uniformisation: between two arrivals the chain
makes Poisson(Lambda dt) jumps of the uniformised matrix I + Q / Lambda (Lambda the largest exit
rate), vectorised over environments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aif_offload.sim.scenario import TenantConfig


@dataclass(frozen=True)
class TenantChain:
    """The joint (regime, busy GPUs) chain of one server; state index = r * (gpus + 1) + n."""

    generator: np.ndarray  # (K, K) Q, rows sum to zero
    gpus: int  # most GPUs the tenants can hold
    regimes: int

    @property
    def size(self) -> int:
        return self.generator.shape[0]

    def busy_gpus(self, state: np.ndarray) -> np.ndarray:
        return state % (self.gpus + 1)

    def regime(self, state: np.ndarray) -> np.ndarray:
        return state // (self.gpus + 1)


def tenant_chain(config: TenantConfig, num_gpus: int) -> TenantChain:
    """Build the generator of a server's tenant chain from its configuration."""
    gpus = num_gpus if config.max_gpus is None else config.max_gpus
    regimes = len(config.regimes)
    levels = gpus + 1
    q = np.zeros((regimes * levels, regimes * levels))
    for r, regime in enumerate(config.regimes):
        for n in range(levels):
            i = r * levels + n
            if n < gpus:
                q[i, i + 1] += regime.arrival_per_s
            if n > 0:
                q[i, i - 1] += n / config.mean_job_s
            for other in range(regimes):
                if other != r:
                    q[i, other * levels + n] += 1.0 / (regime.mean_dwell_s * (regimes - 1))
    np.fill_diagonal(q, -q.sum(axis=1))
    return TenantChain(generator=q, gpus=gpus, regimes=regimes)


def stationary_distribution(chain: TenantChain) -> np.ndarray:
    """pi with pi Q = 0 and sum 1 (the chain is irreducible whenever some regime has arrivals)."""
    k = chain.size
    system = np.vstack([chain.generator.T, np.ones((1, k))])
    rhs = np.zeros(k + 1)
    rhs[-1] = 1.0
    pi, *_ = np.linalg.lstsq(system, rhs, rcond=None)
    pi = np.clip(pi, 0.0, None)
    return pi / pi.sum()


def stationary_mean_gpus(config: TenantConfig, num_gpus: int) -> float:
    """Mean GPUs the tenants hold in the long run: what an operator is told of their load."""
    chain = tenant_chain(config, num_gpus)
    pi = stationary_distribution(chain)
    return float(pi @ chain.busy_gpus(np.arange(chain.size)))


def _uniformised(chain: TenantChain) -> tuple[float, np.ndarray]:
    rate = float(max(-np.diag(chain.generator).min(), 1e-12))
    jump = np.eye(chain.size) + chain.generator / rate
    return rate, np.cumsum(np.clip(jump, 0.0, None), axis=1)


def _pick(cdf_rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one next state per row of ``cdf_rows`` (E, K) with uniforms u (E,)."""
    choice = (cdf_rows < (u * cdf_rows[:, -1])[:, None]).sum(axis=1)
    return np.minimum(choice, cdf_rows.shape[1] - 1)


@dataclass(frozen=True)
class TenantDraws:
    """Random numbers of one server's tenant path in E episodes, padded to the most jumps."""

    start_u: np.ndarray  # (E,) initial state from the stationary law
    jumps: np.ndarray  # (E, N) uniformised jumps before each arrival
    jump_u: np.ndarray  # (E, N, J) uniforms of those jumps (J >= the most jumps of any gap)


def draw_tenant_randoms(
    rngs: list[np.random.Generator], chain: TenantChain, gaps_s: np.ndarray
) -> TenantDraws:
    """Each environment's draws from its own generator (so rows never depend on each other)."""
    rate, _ = _uniformised(chain)
    starts, counts, uniforms = [], [], []
    for rng, gaps in zip(rngs, gaps_s, strict=True):
        starts.append(rng.random())
        count = rng.poisson(rate * gaps)
        counts.append(count)
        uniforms.append(rng.random(int(count.sum())))
    width = max(1, max(int(c.max(initial=0)) for c in counts))
    jump_u = np.zeros((len(rngs), gaps_s.shape[1], width))
    for e, (count, flat) in enumerate(zip(counts, uniforms, strict=True)):
        mask = np.arange(width)[None, :] < count[:, None]
        jump_u[e][mask] = flat
    return TenantDraws(np.asarray(starts), np.stack(counts), jump_u)


def sample_path(chain: TenantChain, draws: TenantDraws) -> np.ndarray:
    """(E, N) chain state at each arrival: stationary start, then the jumps of every gap."""
    _, cdf = _uniformised(chain)
    start_cdf = np.cumsum(stationary_distribution(chain))
    state = _pick(np.broadcast_to(start_cdf, (draws.start_u.size, chain.size)), draws.start_u)
    e, n = draws.jumps.shape
    path = np.empty((e, n), dtype=np.int64)
    for k in range(n):
        for j in range(int(draws.jumps[:, k].max(initial=0))):
            moving = draws.jumps[:, k] > j
            state = np.where(moving, _pick(cdf[state], draws.jump_u[:, k, j]), state)
        path[:, k] = state
    return path
