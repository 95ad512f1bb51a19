"""The hidden world of an episode: other tenants, true speeds, true and predicted output lengths.

Every draw here comes from child streams of the environment's seeds (``numpy.random.Generator.spawn``
for the episode, a separate ``SeedSequence`` spawn key for the world), so turning a feature on never
shifts the draws of a scenario that has it off: ``paper`` keeps its numbers exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aif_offload.sim.scenario import ObservationConfig, Scenario, TokenConfig
from aif_offload.sim.service_times import draw_service_randoms, service_path
from aif_offload.sim.tenants import draw_tenant_randoms, sample_path, tenant_chain
from aif_offload.sim.topology import Servers

WORLD_SPAWN_KEY = 1  # SeedSequence(world seed, spawn_key=(1,)): the per-run world (server speeds)


def world_generator(world_seed: int | None) -> np.random.Generator:
    """The generator of a run's world: the same hidden server speeds in every episode."""
    return np.random.default_rng(np.random.SeedSequence(world_seed, spawn_key=(WORLD_SPAWN_KEY,)))


@dataclass(frozen=True)
class HiddenEpisodes:
    """Per-task truth of E episodes, (E, N, ...)."""

    output_tokens: np.ndarray  # true output length (int)
    predicted_output_tokens: np.ndarray  # what the observation says (int)
    tenant_gpus: np.ndarray  # (E, N, S) GPUs held by other tenants at each arrival
    tenant_regime: np.ndarray  # (E, N, S) regime index, -1 on servers without tenants
    speed_factor: np.ndarray  # (E, N, S) hidden speed at each arrival (1 = nominal)
    time_factor: np.ndarray  # (E, N, S) true compute time / nominal, per task and server


def true_outputs(
    tokens: TokenConfig, z: np.ndarray, drawn: np.ndarray, prompt: np.ndarray, context: int
) -> np.ndarray:
    """True output lengths: log-normal ones when configured, else the workload's own ``drawn``."""
    if tokens.output_distribution != "lognormal":
        return drawn
    length = np.rint(tokens.output_median * np.exp(tokens.output_sigma * z))
    length = np.clip(length, tokens.output_min, tokens.output_max)
    return np.clip(length, 1, context - prompt).astype(np.int64)


def predicted_outputs(
    observation: ObservationConfig, true: np.ndarray, z: np.ndarray
) -> np.ndarray:
    """The router's prediction of the output length (see ``ObservationConfig.output_prediction``)."""
    if observation.output_prediction == "exact":
        return true
    if observation.output_prediction == "noisy":
        return np.maximum(1, np.rint(true * np.exp(observation.prediction_sigma * z))).astype(
            np.int64
        )
    ratio = observation.band_ratio
    band = np.floor(np.log(true) / np.log(ratio) + 1e-9)
    return np.maximum(1, np.rint(ratio ** (band + 0.5))).astype(np.int64)


def draw_hidden(
    scenario: Scenario,
    servers: Servers,
    episode_rngs: list[np.random.Generator],
    world_rngs: list[np.random.Generator],
    arrival_s: np.ndarray,
    prompt: np.ndarray,
    output: np.ndarray,
) -> HiddenEpisodes:
    """Draw the hidden world of E episodes whose tasks arrive at ``arrival_s`` (E, N)."""
    e, n = arrival_s.shape
    s = servers.num_servers
    token_z = np.stack([rng.standard_normal((n, 2)) for rng in episode_rngs])
    true = true_outputs(
        scenario.tokens, token_z[..., 0], output, prompt, scenario.model.max_context_tokens
    )
    predicted = predicted_outputs(scenario.observation, true, token_z[..., 1])

    gaps = np.diff(arrival_s, axis=1, prepend=arrival_s[:, :1])
    tenant_gpus = np.zeros((e, n, s))
    regime = np.full((e, n, s), -1, dtype=np.int64)
    for j, server in enumerate(scenario.servers):
        config = scenario.hidden.tenants.get(server.name)
        if config is None:
            continue
        chain = tenant_chain(config, server.num_gpus)
        state = sample_path(chain, draw_tenant_randoms(episode_rngs, chain, gaps))
        tenant_gpus[..., j] = chain.busy_gpus(state)
        regime[..., j] = chain.regime(state)

    service = scenario.hidden.service
    if service.varies:
        path = service_path(
            service, draw_service_randoms(episode_rngs, world_rngs, n, s), arrival_s
        )
        speed, time_factor = path.speed_factor, path.time_factor
    else:
        speed = time_factor = np.ones((e, n, s))
    return HiddenEpisodes(true, predicted, tenant_gpus, regime, speed, time_factor)
