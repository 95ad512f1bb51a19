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
``NUTS`` (no fitting lives here: see ``aif_offload.inference``). Every computation broadcasts
over extra leading batch dims left of the plates, so ``Predictive(..., parallel=True)`` and
vectorised ELBO particles work: the globals then have shape ``batch + (1, 1, 1)`` (``log_speed``
``batch + (1, 1, S)``) and every site ``batch + its plate shape``; the asserts check the rightmost
dims only. ``SITE_DIMS`` names the dims of every site (for ``az.from_pyro(..., dims=SITE_DIMS)``).

``marginal_load_model`` is the same model with the latent loads integrated out (exactly: they are
linear-Gaussian); it has only the global parameters to sample, which makes offline NUTS fast
(``aif_offload.diagnostics.posterior``). ``LoadModelPrior.compute_noise_floor`` (default 0, off)
adds a known resolution to ``s`` in quadrature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyro
import pyro.distributions as dist
import torch

# Named dims of every site right of the draw dims (``az.from_pyro`` / ``az.from_dict`` ``dims``);
# ``log_compute`` keeps the size-1 dim of the servers plate it is broadcast against (``one``).
SITE_DIMS: dict[str, list[str]] = {
    "log_speed": ["server"],
    "eps": ["episode", "step", "server"],
    "load": ["episode", "step", "server"],
    "report": ["episode", "step", "server"],
    "log_compute": ["episode", "step", "one"],
}


def _batch(value: torch.Tensor, event_dims: int = 3) -> tuple[int, ...]:
    """The leading batch shape of a site left of the model's ``event_dims`` plate dims."""
    return tuple(value.shape[:-event_dims]) if value.dim() > event_dims - 1 else ()


def _is_global(value: torch.Tensor) -> bool:
    """A scalar global: shape () or ``batch + (1, 1, 1)`` (under an outer vectorising plate)."""
    return value.dim() == 0 or (value.dim() >= 3 and value.shape[-3:] == (1, 1, 1))


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
    # sd added in quadrature to s (0: none); a resolution of the compute-time observations that
    # keeps the posterior proper when they carry no noise at all (see docs/models.md)
    compute_noise_floor: float = 0.0

    def scalar_constants(self) -> dict[str, float | int]:
        """The scalar prior settings as the ``constant_data`` of a saved InferenceData."""
        return {
            "prior_process_noise_scale": self.process_noise_scale,
            "prior_report_noise_scale": self.report_noise_scale,
            "prior_compute_noise_scale": self.compute_noise_scale,
            "prior_initial_scale": self.initial_scale,
            "report_delay": self.report_delay,
        }


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


def _globals(data: LoadData, prior: LoadModelPrior, servers: pyro.plate):
    """Sample the global parameters (log speeds, q, r, s); the log speeds in ``servers``."""
    num_servers = data.shape[2]
    dtype = data.control.dtype
    loc = (
        torch.zeros(num_servers, dtype=dtype)
        if prior.log_speed_loc is None
        else torch.as_tensor(prior.log_speed_loc, dtype=dtype)
    )
    scale = torch.as_tensor(prior.log_speed_scale, dtype=dtype).expand(num_servers)
    with servers:
        log_speed = pyro.sample("log_speed", dist.Normal(loc, scale))
    assert log_speed.shape[-1:] == (num_servers,)
    assert log_speed.dim() == 1 or log_speed.shape[-3:-1] == (1, 1)
    q = pyro.sample(
        "process_noise", dist.HalfNormal(torch.tensor(prior.process_noise_scale, dtype=dtype))
    )
    r = pyro.sample(
        "report_noise", dist.HalfNormal(torch.tensor(prior.report_noise_scale, dtype=dtype))
    )
    s = pyro.sample(
        "compute_noise", dist.HalfNormal(torch.tensor(prior.compute_noise_scale, dtype=dtype))
    )
    assert q.shape == r.shape == s.shape and _is_global(q)
    return log_speed, q, r, s


def _log_compute(data: LoadData, prior: LoadModelPrior, log_speed, s, episodes, steps):
    """The compute-time observations: log Lc ~ N(log Lc_nominal + log_speed[server], s_eff)."""
    if prior.compute_noise_floor > 0:
        s = torch.sqrt(s**2 + prior.compute_noise_floor**2)
    num_episodes, num_steps, _ = data.shape
    # log_speed[..., server] per batch entry: (batch, 1, 1, S) -> (batch, E, T)
    flat = log_speed.reshape(-1, log_speed.shape[-1])[:, data.server]
    batch = _batch(log_speed) if log_speed.dim() > 1 else ()
    mean = data.log_nominal_compute + flat.reshape(*batch, num_episodes, num_steps)
    compute_mask = None if data.compute_mask is None else data.compute_mask[..., None]
    obs = None if data.log_compute is None else data.log_compute[..., None]
    with episodes, steps:
        z = pyro.sample(
            "log_compute", _masked(dist.Normal(mean[..., None], s), compute_mask), obs=obs
        )
    assert z.shape[-3:] == (num_episodes, num_steps, 1)
    return z


def _drift(data: LoadData) -> torch.Tensor:
    """(E, T, S) known part of the load: the sum of the controls before each step."""
    num_episodes, _, num_servers = data.shape
    zero = torch.zeros(num_episodes, 1, num_servers, dtype=data.control.dtype)
    return torch.cumsum(torch.cat([zero, data.control[:, :-1]], dim=1), dim=1)


def _report_lag(num_steps: int, delay: int) -> torch.Tensor:
    """Index of the load each report sees: ``max(t - d, 0)``."""
    return torch.clamp(torch.arange(num_steps) - delay, min=0)


def _plates(data: LoadData) -> tuple[pyro.plate, pyro.plate, pyro.plate]:
    """The (episodes, steps, servers) plates shared by both forms of the model."""
    num_episodes, num_steps, num_servers = data.shape
    return (
        pyro.plate("episodes", num_episodes, dim=-3),
        pyro.plate("steps", num_steps, dim=-2),
        pyro.plate("servers", num_servers, dim=-1),
    )


def latent_load_model(data: LoadData, prior: LoadModelPrior = LoadModelPrior()) -> torch.Tensor:
    """Sample (or condition) the whole model; returns the latent loads x (E, T, S)."""
    num_episodes, num_steps, num_servers = data.shape
    dtype = data.control.dtype
    episodes, steps, servers = _plates(data)
    log_speed, q, r, s = _globals(data, prior, servers)

    with episodes, steps, servers:
        eps = pyro.sample("eps", dist.Normal(torch.zeros((), dtype=dtype), 1.0))
    assert eps.shape[-3:] == (num_episodes, num_steps, num_servers)

    # Non-centred random walk with the known control as drift.
    first = torch.zeros(num_steps, 1, dtype=dtype)
    first[0] = 1.0
    noise = eps * (first * prior.initial_scale + (1.0 - first) * q)
    x = pyro.deterministic("load", _drift(data) + torch.cumsum(noise, dim=-2))
    assert x.shape[-3:] == (num_episodes, num_steps, num_servers)

    seen = x[..., _report_lag(num_steps, prior.report_delay), :]
    report_mask = data.report_mask
    with episodes, steps, servers:
        y = pyro.sample("report", _masked(dist.Normal(seen, r), report_mask), obs=data.report)
    assert y.shape[-3:] == (num_episodes, num_steps, num_servers)

    _log_compute(data, prior, log_speed, s, episodes, steps)
    return x


def marginal_load_model(data: LoadData, prior: LoadModelPrior = LoadModelPrior()) -> None:
    """The same model with the latent loads integrated out (exact: the load is linear-Gaussian).

    Per episode and server the observed reports are jointly Gaussian with mean
    ``drift[max(t - d, 0)]`` and covariance ``sigma_0^2 + q^2 min(lag_a, lag_b) + r^2 [a = b]``.
    Their log likelihood enters as the factor ``report_marginal`` (it cannot be sampled: use
    ``latent_load_model`` under ``Predictive`` to replicate reports). The min-kernel of the
    observed lags is diagonalised once per data set (``_lag_spectrum``), so each evaluation costs
    O(E S T) instead of a Cholesky factorisation: what makes NUTS on the 5 + 3 global parameters
    fast. Same sites, plates and priors for the globals and ``log_compute`` as the full model.
    """
    num_episodes, num_steps, num_servers = data.shape
    dtype = data.control.dtype
    episodes, steps, servers = _plates(data)
    log_speed, q, r, s = _globals(data, prior, servers)

    if data.report is not None:
        keep = (
            torch.ones(num_episodes, num_servers, num_steps, dtype=dtype)
            if data.report_mask is None
            else data.report_mask.transpose(1, 2).to(dtype)
        )  # (E, S, T)
        lag = _report_lag(num_steps, prior.report_delay)
        residual = keep * (data.report - _drift(data)[:, lag, :]).transpose(1, 2)
        eigenvalues, vectors = _lag_spectrum(keep, lag)
        # Observed block: sigma_0^2 k k' + q^2 K + r^2 I, K = min-kernel; masked entries become
        # independent N(0, r^2) at residual 0, whose log density is added back below.
        # q, r: () or batch + (1, 1, 1), broadcasting against the (E, S, T) spectrum
        d = q**2 * eigenvalues + r**2  # (batch, E, S, T) eigenvalues of q^2 K + r^2 I
        e = (vectors.transpose(-1, -2) @ residual[..., None])[..., 0]
        w = (vectors.transpose(-1, -2) @ keep[..., None])[..., 0]
        s0 = prior.initial_scale**2
        denominator = 1.0 + s0 * (w**2 / d).sum(-1)
        logdet = torch.log(d).sum(-1) + torch.log(denominator)
        quad = (e**2 / d).sum(-1) - s0 * (w * e / d).sum(-1) ** 2 / denominator
        observed = keep.sum(-1)
        log_lik = -0.5 * (quad + logdet + num_steps * math.log(2.0 * math.pi)) + 0.5 * (
            num_steps - observed
        ) * (torch.log(r.squeeze(-1) ** 2 if r.dim() else r**2) + math.log(2.0 * math.pi))
        assert log_lik.shape[-2:] == (num_episodes, num_servers)
        pyro.factor("report_marginal", log_lik.sum((-2, -1)).reshape(q.shape))

    _log_compute(data, prior, log_speed, s, episodes, steps)


_SPECTRA: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []


def _lag_spectrum(keep: torch.Tensor, lag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-decomposition of the masked min-kernel ``keep_a keep_b min(lag_a, lag_b)``: (E, S, T)
    eigenvalues and (E, S, T, T) eigenvectors. It depends on the data only, so the last few are
    kept (NUTS evaluates the model thousands of times on the same data)."""
    for cached_keep, cached_lag, eigenvalues, vectors in _SPECTRA:
        if (
            cached_keep.shape == keep.shape
            and cached_lag.shape == lag.shape
            and torch.equal(cached_keep, keep)
            and torch.equal(cached_lag, lag)
        ):
            return eigenvalues, vectors
    with torch.no_grad():
        kernel = torch.minimum(lag[:, None], lag[None, :]).to(keep.dtype)
        eigenvalues, vectors = torch.linalg.eigh(keep[..., :, None] * keep[..., None, :] * kernel)
        eigenvalues = torch.clamp(eigenvalues, min=0.0)
    _SPECTRA.insert(0, (keep.detach().clone(), lag.clone(), eigenvalues, vectors))
    del _SPECTRA[4:]
    return eigenvalues, vectors
