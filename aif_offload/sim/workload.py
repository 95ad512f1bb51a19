"""The tasks of an episode: arrival times, requesting terminals, token counts and every random draw.

All randomness of an episode is drawn once, at reset, from that environment's own generator, in
three calls (:func:`draw_raw`); turning the draws into tasks is vectorised over environments
(:func:`build_episodes`). A step only indexes these arrays, so an environment's trajectory depends
on its seed alone, not on which other environments share the batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np

from aif_offload.sim.mobility import TERMINAL_UNIFORMS
from aif_offload.sim.scenario import Scenario

TRACE_FILES = {
    "azure-conv": "azure_llm_2023_conv.csv.gz",
    "azure-code": "azure_llm_2023_code.csv.gz",
}
TASK_UNIFORMS = 4  # terminal, output tokens, arrival gap, trace row


@dataclass(frozen=True)
class Trace:
    """An LLM request trace: arrival times (s) and token counts."""

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray


@lru_cache(maxsize=4)
def load_trace(name: str) -> Trace:
    """Load an Azure LLM inference trace 2023 shipped in ``aif_offload/data`` (CC-BY 4.0)."""
    if name not in TRACE_FILES:
        raise ValueError(f"trace: unknown trace '{name}', allowed: {sorted(TRACE_FILES)}")
    path = files("aif_offload.data").joinpath(TRACE_FILES[name])
    table = np.loadtxt(str(path), delimiter=",", skiprows=1)
    table = table[np.argsort(table[:, 0], kind="stable")]
    return Trace(
        arrival_s=table[:, 0],
        prompt_tokens=table[:, 1].astype(np.int64),
        output_tokens=table[:, 2].astype(np.int64),
    )


@dataclass(frozen=True)
class RawDraws:
    """Every random number of one or more episodes; leading dim E (environments)."""

    terminal_u: np.ndarray  # (E, T, TERMINAL_UNIFORMS)
    task_u: np.ndarray  # (E, N, TASK_UNIFORMS)
    task_z: np.ndarray  # (E, N, 1 + 5 S): prompt size, shadowing up (S), down (S), reports (3 S)
    window_u: np.ndarray  # (E,) where a trace window starts


def draw_raw(rng: np.random.Generator, terminals: int, tasks: int, servers: int) -> RawDraws:
    """One environment's draws for one episode (E = 1)."""
    return RawDraws(
        terminal_u=rng.random((1, terminals, TERMINAL_UNIFORMS)),
        task_u=rng.random((1, tasks, TASK_UNIFORMS)),
        task_z=rng.standard_normal((1, tasks, 1 + 5 * servers)),
        window_u=rng.random(1),
    )


def stack_raw(draws: list[RawDraws]) -> RawDraws:
    return RawDraws(
        *(np.concatenate([getattr(d, f) for d in draws]) for f in RawDraws.__dataclass_fields__)
    )


@dataclass(frozen=True)
class Episodes:
    """Tasks of E episodes; arrays are (E, N, ...)."""

    arrival_s: np.ndarray  # issue time of each task
    terminal: np.ndarray  # index of the requesting terminal
    prompt_tokens: np.ndarray
    output_tokens: np.ndarray
    shadowing_up_z: np.ndarray  # (E, N, S) standard normal, scaled by the link's sigma at use
    shadowing_down_z: np.ndarray  # (E, N, S)
    report_noise_z: np.ndarray  # (E, N, 3, S) standard normal noise of the load reports


def _arrival_times(raw: RawDraws, scenario: Scenario) -> np.ndarray:
    episode = scenario.episode
    gap = episode.interarrival_s
    e, n = raw.task_u.shape[:2]
    if episode.arrival == "per_step":
        return np.broadcast_to(np.arange(n, dtype=float) * gap, (e, n)).copy()
    if episode.arrival == "poisson":
        gaps = -np.log1p(-raw.task_u[..., 2]) * gap  # exponential by inversion
    else:
        trace = load_trace(episode.trace).arrival_s
        trace_gaps = np.diff(trace)
        span = max(1, trace_gaps.size - n)
        start = np.floor(raw.window_u * span).astype(np.int64)
        # A trace shorter than the episode is replayed from its start.
        gaps = trace_gaps[(start[:, None] + np.arange(n)) % trace_gaps.size]
        mean_gap = gaps.mean(axis=1, keepdims=True)
        # Rescale so the mean gap matches the scenario's load, keeping the trace's burstiness.
        gaps = np.where(mean_gap > 0, gaps * gap / np.where(mean_gap > 0, mean_gap, 1.0), gap)
    return np.concatenate([np.zeros((e, 1)), np.cumsum(gaps[:, : n - 1], axis=1)], axis=1)


def _token_counts(raw: RawDraws, scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    context = scenario.model.max_context_tokens
    if scenario.episode.tokens == "humaneval":
        cfg = scenario.tokens
        prompt = np.rint(cfg.prompt_median * np.exp(cfg.prompt_sigma * raw.task_z[..., 0]))
        prompt = np.clip(prompt, cfg.prompt_min, cfg.prompt_max).astype(np.int64)
        span = cfg.output_max - cfg.output_min + 1
        output = cfg.output_min + np.floor(raw.task_u[..., 1] * span).astype(np.int64)
    else:
        trace = load_trace(scenario.episode.trace)
        row = np.floor(raw.task_u[..., 3] * trace.prompt_tokens.size).astype(np.int64)
        prompt, output = trace.prompt_tokens[row], trace.output_tokens[row]
    # The model's context window bounds prompt + output; long trace prompts are cut.
    prompt = np.clip(prompt, 1, context - 1)
    output = np.clip(output, 1, context - prompt)
    return prompt.astype(np.int64), output.astype(np.int64)


def build_episodes(raw: RawDraws, scenario: Scenario, num_terminals: int) -> Episodes:
    """Turn raw draws (E environments) into tasks."""
    e, n = raw.task_u.shape[:2]
    s = scenario.num_servers
    prompt, output = _token_counts(raw, scenario)
    z = raw.task_z
    return Episodes(
        arrival_s=_arrival_times(raw, scenario),
        terminal=np.floor(raw.task_u[..., 0] * num_terminals).astype(np.int64),
        prompt_tokens=prompt,
        output_tokens=output,
        shadowing_up_z=z[..., 1 : 1 + s],
        shadowing_down_z=z[..., 1 + s : 1 + 2 * s],
        report_noise_z=z[..., 1 + 2 * s :].reshape(e, n, 3, s),
    )
