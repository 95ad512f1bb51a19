"""The tasks of one episode: arrival times, requesting terminals, token counts and every random draw.

All randomness of an episode is drawn here, once, at reset, from that environment's own generator.
Steps then only index these arrays, so an environment's trajectory depends on its seed alone, not on
which other environments share the batch, and a step has no per-task Python work.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np

from aif_offload.sim.scenario import Scenario

TRACE_FILES = {
    "azure-conv": "azure_llm_2023_conv.csv.gz",
    "azure-code": "azure_llm_2023_code.csv.gz",
}


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
    order = np.argsort(table[:, 0], kind="stable")
    table = table[order]
    return Trace(
        arrival_s=table[:, 0],
        prompt_tokens=table[:, 1].astype(np.int64),
        output_tokens=table[:, 2].astype(np.int64),
    )


@dataclass
class Episode:
    """Per-task draws of one episode for a batch of environments; arrays are (B, N, ...)."""

    arrival_s: np.ndarray  # (B, N) issue time of each task
    terminal: np.ndarray  # (B, N) index of the requesting terminal
    prompt_tokens: np.ndarray  # (B, N)
    output_tokens: np.ndarray  # (B, N)
    shadowing_up_z: np.ndarray  # (B, N, S) standard normal, scaled by the link's sigma at use
    shadowing_down_z: np.ndarray  # (B, N, S)
    report_noise_z: np.ndarray  # (B, N, 3, S) standard normal noise of the load reports

    @property
    def num_tasks(self) -> int:
        return self.arrival_s.shape[1]


def _arrival_times(rng: np.random.Generator, scenario: Scenario, n: int) -> np.ndarray:
    episode = scenario.episode
    gap = episode.interarrival_s
    if episode.arrival == "per_step":
        return np.arange(n, dtype=float) * gap
    if episode.arrival == "poisson":
        gaps = rng.exponential(gap, size=n)
        gaps[0] = 0.0
        return np.cumsum(gaps)
    trace = load_trace(episode.trace)
    start = int(rng.integers(0, max(1, trace.arrival_s.size - n)))
    window = trace.arrival_s[start : start + n + 1]
    gaps = np.diff(window)
    if gaps.size < n:  # a trace shorter than the episode is replayed from its start
        gaps = np.resize(np.diff(trace.arrival_s), n)
    mean_gap = gaps.mean()
    # Rescale so the mean gap matches the scenario's load, keeping the trace's burstiness.
    gaps = gaps * (gap / mean_gap) if mean_gap > 0 else np.full(n, gap)
    return np.concatenate(([0.0], np.cumsum(gaps[: n - 1])))


def _token_counts(
    rng: np.random.Generator, scenario: Scenario, n: int
) -> tuple[np.ndarray, np.ndarray]:
    context = scenario.model.max_context_tokens
    if scenario.episode.tokens == "humaneval":
        cfg = scenario.tokens
        prompt = np.rint(cfg.prompt_median * np.exp(cfg.prompt_sigma * rng.standard_normal(n)))
        prompt = np.clip(prompt, cfg.prompt_min, cfg.prompt_max).astype(np.int64)
        output = rng.integers(cfg.output_min, cfg.output_max + 1, size=n)
    else:
        trace = load_trace(scenario.episode.trace)
        idx = rng.integers(0, trace.prompt_tokens.size, size=n)
        prompt, output = trace.prompt_tokens[idx], trace.output_tokens[idx]
    # The model's context window bounds prompt + output; long trace prompts are cut.
    prompt = np.clip(prompt, 1, context - 1)
    output = np.clip(output, 1, context - prompt)
    return prompt.astype(np.int64), output.astype(np.int64)


def sample_episode(rng: np.random.Generator, scenario: Scenario, num_terminals: int) -> Episode:
    """Draw one environment's episode (batch dimension of size 1)."""
    n = scenario.episode.num_tasks
    s = scenario.num_servers
    arrival = _arrival_times(rng, scenario, n)
    terminal = rng.integers(0, num_terminals, size=n)
    prompt, output = _token_counts(rng, scenario, n)
    return Episode(
        arrival_s=arrival[None],
        terminal=terminal[None],
        prompt_tokens=prompt[None],
        output_tokens=output[None],
        shadowing_up_z=rng.standard_normal((1, n, s)),
        shadowing_down_z=rng.standard_normal((1, n, s)),
        report_noise_z=rng.standard_normal((1, n, 3, s)),
    )
