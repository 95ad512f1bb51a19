"""The continuous latent load model of ``aif-pyro`` (issue 4): a plain Pyro model function.

Per episode ``e``, dispatch step ``t`` and server ``j`` the hidden state is ``x[e, t, j]``, the used
fraction of the server's compute when task ``t`` is dispatched. It evolves with the agent's own
allocations and the releases of its finished tasks (together the known control ``u``) plus Gaussian
process noise (arrival-time and release-time errors of the agent's ledger)::

    x[e, 0, j]   = sigma_0 * eps[e, 0, j]
    x[e, t+1, j] = x[e, t, j] + u[e, t, j] + q * eps[e, t+1, j],     eps ~ N(0, 1)

Observed: the load reports, delayed by ``d`` steps and noisy (``1 - remaining_compute``)::

    y[e, t, j] ~ N(x[e, max(t - d, 0), j], r)

and the compute time of the agent's own task on the server it chose, against the nominal
(scenario) compute time of that allocation (eq. 8's L_c), with a per-server log-speed multiplier::

    log Lc[e, t] ~ N(log Lc_nominal[e, t] + log_speed[server[e, t]], s)

Global parameters and priors: ``log_speed[j] ~ N(mu_j, tau_j)`` (default mu 0: the scenario's
nominal speed), ``q ~ HalfNormal``, ``r ~ HalfNormal`` (scale from the scenario's report noise),
``s ~ HalfNormal``. The model has named plates ``episodes`` (dim -3), ``steps`` (-2) and ``servers``
(-1), asserts the shape of every sample, and runs unchanged under ``Predictive``, ``SVI`` and
``NUTS`` (no fitting lives here: see ``aif_offload.inference``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch


@dataclass(frozen=True)
class LoadModelPrior:
    """Prior scales of the latent load model (defaults match the ``paper`` scenario)."""

    log_speed_loc: torch.Tensor | None = None  # (S,) prior mean of log speed multipliers; None = 0
    log_speed_scale: torch.Tensor | float = 0.3  # (S,) or scalar prior sd
    process_noise_scale: float = 0.05  # HalfNormal scale of q
    report_noise_scale: float = 0.05  # HalfNormal scale of r (scenario: report_noise_std)
    compute_noise_scale: float = 0.2  # HalfNormal scale of s
    initial_scale: float = 0.01  # sd of the load at the first dispatch (servers start idle)
    report_delay: int = 2  # d (scenario: report_delay_steps)


@dataclass(frozen=True)
class LoadData:
    """Inputs of the model; leading dims (E, T) = episodes, steps; S = servers.

    ``log_compute`` and ``report`` are the observations (``None`` to sample them); the masks say
    which entries were observed (e.g. the first steps of an episode, or refused tasks).
    """

    control: torch.Tensor  # (E, T, S) known change of used fraction between t and t+1
    server: torch.Tensor  # (E, T) long: server of the agent's task at t
    log_nominal_compute: torch.Tensor  # (E, T) log nominal compute time of that allocation (s)
    log_compute: torch.Tensor | None = None  # (E, T) observed log compute time
    report: torch.Tensor | None = None  # (E, T, S) observed used fraction (1 - reported left)
    compute_mask: torch.Tensor | None = None  # (E, T) bool
    report_mask: torch.Tensor | None = None  # (E, T, S) bool (False: missing or clipped)

    @property
    def shape(self) -> tuple[int, int, int]:
        e, t, s = self.control.shape
        return int(e), int(t), int(s)


def _masked(distribution: dist.Distribution, mask: torch.Tensor | None) -> dist.Distribution:
    return distribution if mask is None else distribution.mask(mask)


def latent_load_model(data: LoadData, prior: LoadModelPrior = LoadModelPrior()) -> torch.Tensor:
    """Sample (or condition) the whole model; returns the latent loads x (E, T, S)."""
    num_episodes, num_steps, num_servers = data.shape
    dtype = data.control.dtype
    loc = (
        torch.zeros(num_servers, dtype=dtype)
        if prior.log_speed_loc is None
        else torch.as_tensor(prior.log_speed_loc, dtype=dtype)
    )
    scale = torch.as_tensor(prior.log_speed_scale, dtype=dtype).expand(num_servers)

    servers = pyro.plate("servers", num_servers, dim=-1)
    steps = pyro.plate("steps", num_steps, dim=-2)
    episodes = pyro.plate("episodes", num_episodes, dim=-3)

    with servers:
        log_speed = pyro.sample("log_speed", dist.Normal(loc, scale))
    assert log_speed.shape[-1:] == (num_servers,)
    q = pyro.sample(
        "process_noise", dist.HalfNormal(torch.tensor(prior.process_noise_scale, dtype=dtype))
    )
    r = pyro.sample(
        "report_noise", dist.HalfNormal(torch.tensor(prior.report_noise_scale, dtype=dtype))
    )
    s = pyro.sample(
        "compute_noise", dist.HalfNormal(torch.tensor(prior.compute_noise_scale, dtype=dtype))
    )
    assert q.shape == r.shape == s.shape == ()

    with episodes, steps, servers:
        eps = pyro.sample("eps", dist.Normal(torch.zeros((), dtype=dtype), 1.0))
    assert eps.shape == (num_episodes, num_steps, num_servers)

    # Non-centred random walk with the known control as drift.
    first = torch.zeros(num_steps, 1, dtype=dtype)
    first[0] = 1.0
    noise = eps * (first * prior.initial_scale + (1.0 - first) * q)
    drift = torch.cat(
        [torch.zeros(num_episodes, 1, num_servers, dtype=dtype), data.control[:, :-1]], dim=1
    )
    x = pyro.deterministic("load", torch.cumsum(drift + noise, dim=1))
    assert x.shape == (num_episodes, num_steps, num_servers)

    lag = torch.clamp(torch.arange(num_steps) - prior.report_delay, min=0)
    seen = x[:, lag, :]
    report_mask = data.report_mask
    with episodes, steps, servers:
        y = pyro.sample("report", _masked(dist.Normal(seen, r), report_mask), obs=data.report)
    assert y.shape == (num_episodes, num_steps, num_servers)

    mean = data.log_nominal_compute + log_speed[data.server]
    compute_mask = None if data.compute_mask is None else data.compute_mask[..., None]
    obs = None if data.log_compute is None else data.log_compute[..., None]
    with episodes, steps:
        z = pyro.sample(
            "log_compute", _masked(dist.Normal(mean[..., None], s), compute_mask), obs=obs
        )
    assert z.shape == (num_episodes, num_steps, 1)
    return x
