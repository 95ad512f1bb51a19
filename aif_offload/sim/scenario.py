"""The scenario: every constant of the simulated system, validated on load.

A scenario is a TOML file (see ``aif_offload/scenarios/``); this module defines its schema as frozen
pydantic models so that a bad value is rejected with the field's dotted path and the allowed range,
before anything runs. Sources of the default values are in ``docs/scenarios.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PositiveFloat = Annotated[float, Field(gt=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class EpisodeConfig(_Frozen):
    """How many tasks an episode has and when they arrive."""

    tasks_per_episode: int = Field(100, ge=1, le=100_000)
    """Tasks in one episode at load 100 % (the paper: 100)."""
    load_percent: float = Field(100.0, gt=0, le=1000)
    """Offered load; tasks per episode and arrival rate scale with it (the paper sweeps 100-200)."""
    t_max_s: float = Field(15.0, gt=0, le=3600)
    """Deadline of every task in seconds; a task with a longer latency fails (the paper: 1-15)."""
    mean_interarrival_s: float = Field(0.22, gt=0, le=3600)
    """Mean time between two tasks at load 100 %; the episode lasts about tasks x this."""
    arrival: Literal["per_step", "poisson", "trace"] = "per_step"
    """per_step: evenly spaced (the paper); poisson: exponential gaps; trace: gaps from a trace."""
    tokens: Literal["humaneval", "trace"] = "humaneval"
    """Where prompt and output token counts come from."""
    trace: Literal["azure-conv", "azure-code"] = "azure-conv"
    """Azure LLM inference trace 2023 used when arrival or tokens is 'trace'."""

    @property
    def num_tasks(self) -> int:
        """Tasks in one episode at this load."""
        return max(1, round(self.tasks_per_episode * self.load_percent / 100.0))

    @property
    def interarrival_s(self) -> float:
        """Mean gap between tasks at this load: the episode's span stays the same."""
        return self.mean_interarrival_s * 100.0 / self.load_percent


class TokenConfig(_Frozen):
    """HumanEval-like request sizes (used when ``episode.tokens = 'humaneval'``)."""

    prompt_median: float = Field(130.0, gt=0)
    prompt_sigma: float = Field(0.4, ge=0, le=3)
    prompt_min: int = Field(32, ge=1)
    prompt_max: int = Field(512, ge=1)
    output_min: int = Field(248, ge=1)
    output_max: int = Field(272, ge=1)
    output_distribution: Literal["uniform", "lognormal"] = "uniform"
    """uniform: integers in [output_min, output_max] (the paper's near-fixed completions);
    lognormal: median ``output_median``, log-sd ``output_sigma``, clipped to that range."""
    output_median: float = Field(130.0, gt=0)
    output_sigma: float = Field(1.0, ge=0, le=3)
    bytes_per_token: float = Field(4.0, gt=0)
    header_bytes: float = Field(1024.0, ge=0)

    @model_validator(mode="after")
    def _ranges(self) -> TokenConfig:
        if self.prompt_min > self.prompt_max:
            raise ValueError("prompt_min must be <= prompt_max")
        if self.output_min > self.output_max:
            raise ValueError("output_min must be <= output_max")
        return self


class ModelConfig(_Frozen):
    """The served LLM (the paper: GPT-J-6B)."""

    name: str = "gpt-j-6b"
    num_params: float = Field(6.05e9, gt=0)
    bytes_per_param: float = Field(2.0, gt=0)
    num_layers: int = Field(28, ge=1)
    num_kv_heads: int = Field(16, ge=1)
    head_dim: int = Field(256, ge=1)
    max_context_tokens: int = Field(2048, ge=2)


class GpuConfig(_Frozen):
    """Datasheet figures of one GPU type."""

    peak_fp16_tflops: PositiveFloat
    memory_bandwidth_gbps: PositiveFloat
    memory_gb: PositiveFloat


class ServingConfig(_Frozen):
    """Efficiency of the serving stack, fitted by ``analysis/calibrate_latency.py``."""

    memory_efficiency: float = Field(gt=0, le=1)
    compute_efficiency: float = Field(gt=0, le=1)
    unaccelerated_slowdown: float = Field(ge=1, le=100)


class ServerConfig(_Frozen):
    """One server: the cloud or an edge site."""

    name: str = Field(min_length=1)
    kind: Literal["cloud", "edge"]
    gpu: str
    num_gpus: int = Field(ge=1, le=100_000)
    accelerated: bool
    position_m: tuple[float, float, float]
    bandwidth_mhz: PositiveFloat
    max_parallel: int = Field(ge=1, le=4096)
    tx_power_dbm: float = Field(ge=-30, le=80)
    backhaul_one_way_s: float = Field(0.0, ge=0, le=10)
    pass_at_100: float = Field(ge=0, le=1)


class TerminalConfig(_Frozen):
    """Terminals issuing requests: fixed PCs, ground mobiles and UAVs in a box."""

    n_fixed: int = Field(10, ge=0, le=100_000)
    n_ground_mobile: int = Field(20, ge=0, le=100_000)
    n_air: int = Field(5, ge=0, le=100_000)
    area_m: tuple[PositiveFloat, PositiveFloat] = (2000.0, 2000.0)
    ground_height_m: float = Field(1.5, ge=0, lt=100)
    air_altitude_m: tuple[float, float] = (120.0, 300.0)
    ground_speed_m_s: tuple[float, float] = (1.0, 15.0)
    air_speed_m_s: tuple[float, float] = (5.0, 20.0)
    tx_power_dbm: float = Field(23.0, ge=-30, le=50)

    @model_validator(mode="after")
    def _ranges(self) -> TerminalConfig:
        if self.n_fixed + self.n_ground_mobile + self.n_air < 1:
            raise ValueError(
                "at least one terminal is needed (n_fixed + n_ground_mobile + n_air >= 1)"
            )
        lo, hi = self.air_altitude_m
        if not 100.0 < lo <= hi:
            raise ValueError("air_altitude_m must satisfy 100 < low <= high (UAVs fly above 100 m)")
        for name in ("ground_speed_m_s", "air_speed_m_s"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi:
                raise ValueError(f"{name} must satisfy 0 <= low <= high")
        return self


class RadioConfig(_Frozen):
    """Equations 3-7 of the paper: Shannon rate, gain, three path-loss laws."""

    noise_psd_dbm_hz: float = Field(-174.0, ge=-250, le=0)
    noise_figure_db: float = Field(9.0, ge=0, le=50)
    antenna_gain_db: float = Field(15.0, ge=-50, le=50)
    gg_intercept_db: float = 128.1
    gg_slope_db: float = 37.6
    ga_alpha: float = Field(2.2, gt=0, le=10)
    ga_intercept_db: float = 34.0
    aa_alpha: float = Field(2.0, gt=0, le=10)
    aa_intercept_db: float = 38.5
    shadowing_gg_db: float = Field(8.0, ge=0, le=30)
    shadowing_ga_db: float = Field(4.2, ge=0, le=30)
    shadowing_aa_db: float = Field(2.0, ge=0, le=30)
    min_distance_m: float = Field(10.0, gt=0)


class ActionConfig(_Frozen):
    """Allocation levels an agent chooses from (one action dimension each)."""

    compute_shares: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    """Share of one GPU of the target server."""
    bandwidth_mhz: tuple[float, ...] = (1.0, 2.0, 5.0)
    memory_gb: tuple[float, ...] = (0.125, 0.25, 0.5, 1.0)
    """GPU memory reserved for the task's KV cache."""

    @field_validator("compute_shares")
    @classmethod
    def _shares(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(not 0.0 < s <= 1.0 for s in value):
            raise ValueError("every compute share must be in (0, 1]")
        return tuple(sorted(value))

    @field_validator("bandwidth_mhz", "memory_gb")
    @classmethod
    def _positive(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value or any(v <= 0 for v in value):
            raise ValueError("needs at least one level and every level > 0")
        return tuple(sorted(value))


class ObservationConfig(_Frozen):
    """What the agent sees of the servers' load."""

    mode: Literal["full", "partial"] = "partial"
    """full: exact remaining resources now; partial: noisy reports from some decisions ago."""
    report_delay_steps: int = Field(2, ge=0, le=1000)
    report_noise_std: float = Field(0.05, ge=0, le=1)
    clock: bool = False
    """Add ``gap_s``, the time since the previous task, to the observation (a router knows its clock)."""
    output_prediction: Literal["exact", "noisy", "band"] = "exact"
    """What the observation says of the output length: exact (the paper: known at dispatch), noisy
    (the true length times a log-normal error of log-sd ``prediction_sigma``) or band (the geometric
    middle of the band [r^k, r^(k+1)) holding the true length, r = ``band_ratio``). Unless exact, the
    length is realised at the server and a KV cache that outgrows its reservation fails the task."""
    prediction_sigma: float = Field(0.5, ge=0, le=3)
    band_ratio: float = Field(2.0, gt=1, le=100)

    @property
    def output_known(self) -> bool:
        """The true output length is known at dispatch (the paper's assumption)."""
        return self.output_prediction == "exact"


class TenantRegime(_Frozen):
    """One regime of the other tenants' traffic on a server (e.g. quiet, busy, surge)."""

    name: str = Field(min_length=1)
    arrival_per_s: float = Field(ge=0, le=1e4)
    """Jobs of other tenants started per second; each holds one whole GPU."""
    mean_dwell_s: float = Field(gt=0, le=1e7)
    """Mean time spent in this regime before switching to another (chosen uniformly)."""


class TenantConfig(_Frozen):
    """Other tenants on one server: a birth-death chain over their busy GPUs, regime-switching.

    In regime r jobs arrive at ``arrival_per_s``, each holds one GPU for an exponential time of mean
    ``mean_job_s`` and is lost when all ``max_gpus`` are theirs (an M/M/c/c queue per regime). A busy
    GPU takes its compute, its KV memory and its share of the processing slots from the agent.
    """

    mean_job_s: float = Field(gt=0, le=1e7)
    max_gpus: int | None = Field(None, ge=1, le=100_000)
    """Most GPUs the tenants may hold at once (default: all of the server's)."""
    regimes: tuple[TenantRegime, ...] = Field(min_length=1, max_length=16)

    @model_validator(mode="after")
    def _names(self) -> TenantConfig:
        names = [r.name for r in self.regimes]
        if len(set(names)) != len(names):
            raise ValueError(f"regimes: names must be unique, got {names}")
        return self


class ServiceConfig(_Frozen):
    """How true service times stray from the nominal (eq. 8's L_c from the GPU profile).

    compute time = nominal / (speed x drift x throttle) x task noise, with each server's hidden speed
    factor log-normal (drawn once per world seed), a slow Ornstein-Uhlenbeck drift of the log speed,
    throttling spells (a two-state Markov chain) and log-normal per-task noise. All off by default.
    """

    speed_sigma: float = Field(0.0, ge=0, le=3)
    """Log-sd of each server's hidden speed factor (median 1), drawn per world seed."""
    drift_sigma: float = Field(0.0, ge=0, le=3)
    """Stationary log-sd of the slow drift of every server's speed."""
    drift_time_s: float = Field(600.0, gt=0, le=1e7)
    """Correlation time of the drift."""
    throttle_per_s: float = Field(0.0, ge=0, le=100)
    """Rate at which a throttling spell starts on a server that is not throttled."""
    throttle_mean_s: float = Field(30.0, gt=0, le=1e7)
    """Mean length of a throttling spell."""
    throttle_speed: float = Field(0.5, gt=0, le=1)
    """Speed during a spell, as a fraction of the server's speed."""
    task_sigma: float = Field(0.0, ge=0, le=3)
    """Log-sd of the per-task noise on the compute time (median 1)."""

    @property
    def varies(self) -> bool:
        return bool(self.speed_sigma or self.drift_sigma or self.throttle_per_s or self.task_sigma)


class HiddenConfig(_Frozen):
    """The truth an operator is not told: other tenants and how fast the servers really are."""

    tenants: dict[str, TenantConfig] = {}
    """Other tenants per server name; servers not listed have none."""
    service: ServiceConfig = ServiceConfig()


class NominalConfig(_Frozen):
    """What the operator is told beyond the spec sheets (the agents' view of the hidden world)."""

    tenant_gpus: dict[str, float] = {}
    """Mean GPUs the other tenants hold, per server name; default: the true stationary mean."""


class RewardConfig(_Frozen):
    """Reward of eq. 14 for a completed task; this value for a failed one."""

    failure_reward: float = Field(0.0, ge=-100, le=100)


class Scenario(_Frozen):
    """A complete, validated simulation scenario."""

    name: str = Field(min_length=1)
    description: str = ""
    episode: EpisodeConfig = EpisodeConfig()
    tokens: TokenConfig = TokenConfig()
    model: ModelConfig = ModelConfig()
    gpus: dict[str, GpuConfig]
    serving: ServingConfig
    servers: tuple[ServerConfig, ...]
    terminals: TerminalConfig = TerminalConfig()
    radio: RadioConfig = RadioConfig()
    actions: ActionConfig = ActionConfig()
    observation: ObservationConfig = ObservationConfig()
    reward: RewardConfig = RewardConfig()
    hidden: HiddenConfig = HiddenConfig()
    nominal: NominalConfig = NominalConfig()

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        if not self.servers:
            raise ValueError("servers: at least one server is needed")
        names = [s.name for s in self.servers]
        if len(set(names)) != len(names):
            raise ValueError(f"servers: names must be unique, got {names}")
        weights_gb = self.model.num_params * self.model.bytes_per_param / 1e9
        for i, server in enumerate(self.servers):
            if server.gpu not in self.gpus:
                raise ValueError(
                    f"servers[{i}].gpu: unknown GPU {server.gpu!r}, allowed: {sorted(self.gpus)}"
                )
            if self.gpus[server.gpu].memory_gb <= weights_gb:
                raise ValueError(
                    f"servers[{i}].gpu: {server.gpu!r} has {self.gpus[server.gpu].memory_gb} GB, "
                    f"not more than the model's {weights_gb:.1f} GB of weights"
                )
        for table, field in (
            (self.hidden.tenants, "hidden.tenants"),
            (self.nominal.tenant_gpus, "nominal.tenant_gpus"),
        ):
            for name in table:
                if name not in names:
                    raise ValueError(f"{field}.{name}: unknown server, allowed: {names}")
        by_name = {s.name: s for s in self.servers}
        for name, tenants in self.hidden.tenants.items():
            if tenants.max_gpus is not None and tenants.max_gpus > by_name[name].num_gpus:
                raise ValueError(
                    f"hidden.tenants.{name}.max_gpus: {tenants.max_gpus} exceeds the server's "
                    f"num_gpus {by_name[name].num_gpus}"
                )
        for name, gpus in self.nominal.tenant_gpus.items():
            if not 0 <= gpus <= by_name[name].num_gpus:
                raise ValueError(
                    f"nominal.tenant_gpus.{name}: must be in [0, {by_name[name].num_gpus}], got {gpus}"
                )
        return self

    @property
    def num_servers(self) -> int:
        return len(self.servers)

    @property
    def has_hidden_world(self) -> bool:
        """Tenants, varying service times or output lengths unknown at dispatch are on."""
        return bool(
            self.hidden.tenants or self.hidden.service.varies or not self.observation.output_known
        )

    def nominal_view(self) -> Scenario:
        """What an agent is built from: the scenario without its ``hidden`` truth.

        The operator is told the tenants' mean load (``nominal.tenant_gpus``, by default the true
        stationary mean); nothing else of the hidden world survives. For a scenario without a hidden
        world (``paper``) the view is the scenario itself.
        """
        if not (self.hidden.tenants or self.hidden.service.varies):
            return self
        from aif_offload.sim.tenants import stationary_mean_gpus  # the schema needs no NumPy maths

        told = {
            server.name: self.nominal.tenant_gpus.get(
                server.name,
                stationary_mean_gpus(self.hidden.tenants[server.name], server.num_gpus)
                if server.name in self.hidden.tenants
                else 0.0,
            )
            for server in self.servers
            if server.name in self.hidden.tenants or server.name in self.nominal.tenant_gpus
        }
        return self.model_copy(
            update={"hidden": HiddenConfig(), "nominal": NominalConfig(tenant_gpus=told)}
        )

    def with_values(self, values: Mapping[str, Any]) -> Scenario:
        """A validated copy with fields replaced by dotted path, e.g. ``{"episode.t_max_s": 5}``
        (servers by name: ``"servers.edge-1.num_gpus"``). The one override every layer uses."""
        data = self.model_dump()
        for path, value in values.items():
            set_path(data, path, value)
        return Scenario.model_validate(data)

    def with_overrides(
        self, *, t_max_s: float | None = None, load_percent: float | None = None
    ) -> Scenario:
        """A copy with the deadline and/or load replaced (the two parameters the paper sweeps)."""
        return self.with_values(deadline_and_load(t_max_s, load_percent))


def deadline_and_load(t_max_s: float | None, load_percent: float | None) -> dict[str, float]:
    """The dotted-path overrides of the two parameters the paper sweeps (None: unchanged)."""
    values = {"episode.t_max_s": t_max_s, "episode.load_percent": load_percent}
    return {path: value for path, value in values.items() if value is not None}


def set_path(table: dict[str, Any], path: str, value: Any) -> None:
    """Set ``table``'s field at a dotted ``path`` in place; list entries are found by ``name``.

    An unknown path raises ``ValueError`` naming it; unknown leaf fields are left to validation.
    """
    *parents, leaf = path.split(".")
    node: Any = table
    for depth, key in enumerate(parents):
        where = ".".join(parents[: depth + 1])
        if isinstance(node, list | tuple):
            named = [item for item in node if isinstance(item, dict) and item.get("name") == key]
            if not named:
                names = [item.get("name") for item in node if isinstance(item, dict)]
                raise ValueError(f"{where}: no entry named '{key}', allowed: {names}")
            node = named[0]
        elif isinstance(node, dict):
            node = node.setdefault(key, {})
        else:
            raise ValueError(f"{where}: not a table, cannot set '{path}'")
    if not isinstance(node, dict):
        raise ValueError(f"{path}: its parent is not a table")
    node[leaf] = value
