"""Compute latency of one LLM inference request on a (share of a) GPU.

A batch-1 roofline model: every forward step costs the larger of the time to stream the bytes it
reads from GPU memory (weights, plus the KV cache during decode) and the time to do its FLOPs, each
at an achieved fraction of the datasheet peak. The fractions are fitted from public profiles by
``analysis/calibrate_latency.py``; an unaccelerated serving stack is a constant
``framework_slowdown`` on top. Simplifications: attention FLOPs (quadratic in context) and
activation traffic are ignored, every output token is counted as one decode step (the first one is
in fact produced by the prefill, so decode is over-estimated by one step, < 0.4 % for 260 output
tokens), and a ``gpu_share`` of a GPU is pure time-slicing (time / share).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


def _require_positive(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"{type(obj).__name__}.{name} must be finite and > 0, got {value!r}")


@dataclass(frozen=True)
class GpuSpec:
    """Datasheet figures of one GPU (FLOPS in TFLOPS, bandwidth in GB/s = 1e9 B/s, memory in GB)."""

    name: str
    peak_fp16_tflops: float
    memory_bandwidth_gbps: float
    memory_gb: float

    def __post_init__(self) -> None:
        _require_positive(self, "peak_fp16_tflops", "memory_bandwidth_gbps", "memory_gb")


@dataclass(frozen=True)
class ModelSpec:
    """Size and KV-cache geometry of a dense decoder-only transformer."""

    name: str
    num_params: float
    bytes_per_param: float
    num_layers: int
    num_kv_heads: int
    head_dim: int
    kv_bytes_per_value: float = 2.0

    def __post_init__(self) -> None:
        _require_positive(
            self,
            "num_params",
            "bytes_per_param",
            "num_layers",
            "num_kv_heads",
            "head_dim",
            "kv_bytes_per_value",
        )


@dataclass(frozen=True)
class ServingProfile:
    """A model served on a GPU by a given stack: achieved efficiencies and framework slowdown."""

    gpu: GpuSpec
    model: ModelSpec
    memory_efficiency: float
    compute_efficiency: float
    framework_slowdown: float = 1.0

    def __post_init__(self) -> None:
        for name in ("memory_efficiency", "compute_efficiency"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"ServingProfile.{name} must be in (0, 1], got {value!r}")
        if not (np.isfinite(self.framework_slowdown) and self.framework_slowdown >= 1.0):
            raise ValueError(
                f"ServingProfile.framework_slowdown must be >= 1, got {self.framework_slowdown!r}"
            )


# Models. Parameter counts are the exact Hugging Face checkpoint totals (embeddings and LM head
# included). GPT-J-6B: EleutherAI/gpt-j-6b model card (6,053,381,344 params, 28 layers, d_model
# 4096 = 16 heads x 256, multi-head attention so 16 KV heads). Llama-2-7B: Touvron et al. 2023 and
# meta-llama/Llama-2-7b-hf config (6,738,415,616 params, 32 layers, 32 heads x 128, no GQA at 7B).
GPT_J_6B = ModelSpec("GPT-J-6B", 6.05e9, 2.0, num_layers=28, num_kv_heads=16, head_dim=256)
LLAMA2_7B = ModelSpec("Llama-2-7B", 6.74e9, 2.0, num_layers=32, num_kv_heads=32, head_dim=128)

# GPUs, dense (no structured sparsity) FP16 tensor-core peaks. A100 80GB SXM: NVIDIA A100 datasheet
# (312 TFLOPS, 2039 GB/s). A800 80GB SXM: NVIDIA A800 datasheet, the export variant of the same
# silicon, only NVLink is cut (400 vs 600 GB/s), irrelevant on one GPU; the PCIe A800 has 1935 GB/s
# and the paper does not say which form factor it used. H100 SXM5 80GB: NVIDIA H100 datasheet
# (989 TFLOPS dense, 1979 with sparsity; 3350 GB/s).
A100_80GB = GpuSpec("A100-80GB-SXM", 312.0, 2039.0, 80.0)
A800_80GB = GpuSpec("A800-80GB-SXM", 312.0, 2039.0, 80.0)
H100_80GB = GpuSpec("H100-80GB-SXM", 989.0, 3350.0, 80.0)
# RTX 3090: NVIDIA GA102 whitepaper, appendix A. Caveat: GeForce cards run FP16 tensor math with
# FP32 accumulate at half rate: 142 TFLOPS dense with FP16 accumulate, 71 with FP32 accumulate. We
# use 71 because cuBLAS/PyTorch FP16 GEMMs accumulate in FP32 by default (an unaccelerated stack).
# 936 GB/s GDDR6X, 24 GB. Decode is memory-bound, so this choice only moves long prefills.
RTX_3090 = GpuSpec("RTX-3090", 71.0, 936.0, 24.0)


def weights_bytes(model: ModelSpec) -> float:
    """Bytes of model weights (``num_params * bytes_per_param``)."""
    return float(model.num_params * model.bytes_per_param)


def kv_cache_bytes_per_token(model: ModelSpec) -> float:
    """KV-cache bytes per token: 2 (K and V) x bytes per value x head_dim x KV heads x layers."""
    return float(
        2.0 * model.kv_bytes_per_value * model.head_dim * model.num_kv_heads * model.num_layers
    )


def _tokens(values: ArrayLike, name: str, minimum: int) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr < minimum) or np.any(arr != np.floor(arr)):
        raise ValueError(f"`{name}` must be integer-valued and >= {minimum}, got {values!r}")
    return arr


def kv_cache_bytes(model: ModelSpec, tokens: ArrayLike) -> np.ndarray:
    """KV-cache bytes held for ``tokens`` tokens of context (broadcasts over arrays)."""
    return np.asarray(_tokens(tokens, "tokens", 0) * kv_cache_bytes_per_token(model))


def _bandwidth(profile: ServingProfile) -> float:
    """Achieved memory bandwidth in bytes/s."""
    return profile.gpu.memory_bandwidth_gbps * 1e9 * profile.memory_efficiency


def _flops(profile: ServingProfile) -> float:
    """Achieved FLOP/s."""
    return profile.gpu.peak_fp16_tflops * 1e12 * profile.compute_efficiency


def prefill_time_s(profile: ServingProfile, prompt_tokens: ArrayLike) -> np.ndarray:
    """Time of the prefill (one forward pass over the prompt) on a whole GPU.

    Parameters
    ----------
    profile : ServingProfile
        Model, GPU, efficiencies and framework slowdown.
    prompt_tokens : array_like of int
        Prompt lengths, >= 1.

    Returns
    -------
    numpy.ndarray
        ``max(weights / bw_eff, 2 * num_params * prompt / flops_eff) * framework_slowdown`` in s.
    """
    p = _tokens(prompt_tokens, "prompt_tokens", 1)
    memory_s = weights_bytes(profile.model) / _bandwidth(profile)
    compute_s = 2.0 * profile.model.num_params * p / _flops(profile)
    return np.asarray(np.maximum(memory_s, compute_s) * profile.framework_slowdown)


def decode_time_s(
    profile: ServingProfile, prompt_tokens: ArrayLike, output_tokens: ArrayLike
) -> np.ndarray:
    """Time to decode ``output_tokens`` tokens one at a time (batch 1) on a whole GPU.

    Step ``i`` (``i = 0 .. n-1``) reads the weights ``W`` and the KV cache of ``prompt + i``
    tokens, ``m_i = (W + k (prompt + i)) / bw_eff``, and does ``2 num_params`` FLOPs,
    ``c = 2 num_params / flops_eff``; it costs ``max(m_i, c)``. Since ``m_i`` grows with ``i``, the
    first ``j = clip(ceil(x), 0, n)`` steps are compute-bound, with ``x = (c bw_eff - W) / k -
    prompt``, and the sum is ``j c + sum_{i=j}^{n-1} m_i`` in closed form.

    Parameters
    ----------
    profile : ServingProfile
        Model, GPU, efficiencies and framework slowdown.
    prompt_tokens : array_like of int
        Prompt lengths, >= 1 (KV cache already present at the first decode step).
    output_tokens : array_like of int
        Number of generated tokens, >= 0. Broadcasts with ``prompt_tokens``.

    Returns
    -------
    numpy.ndarray
        Decode time in seconds, times ``framework_slowdown``.
    """
    p = _tokens(prompt_tokens, "prompt_tokens", 1)
    n = _tokens(output_tokens, "output_tokens", 0)
    p, n = np.broadcast_arrays(p, n)
    w = weights_bytes(profile.model)
    k = kv_cache_bytes_per_token(profile.model)
    bw = _bandwidth(profile)
    c = 2.0 * profile.model.num_params / _flops(profile)
    j = np.clip(np.ceil((c * bw - w) / k - p), 0.0, n)
    memory_steps = n - j
    # sum_{i=j}^{n-1} (W + k (p + i)) = (n - j)(W + k p) + k (n - j)(n - 1 + j) / 2
    memory_bytes = memory_steps * (w + k * p) + k * memory_steps * (n - 1.0 + j) / 2.0
    return np.asarray((j * c + memory_bytes / bw) * profile.framework_slowdown)


def full_gpu_compute_time_s(
    profile: ServingProfile, prompt_tokens: ArrayLike, output_tokens: ArrayLike
) -> np.ndarray:
    """Prefill plus decode time of a request on one whole GPU, in seconds (broadcasts)."""
    return np.asarray(
        prefill_time_s(profile, prompt_tokens)
        + decode_time_s(profile, prompt_tokens, output_tokens)
    )


def compute_time_s(
    profile: ServingProfile,
    prompt_tokens: ArrayLike,
    output_tokens: ArrayLike,
    gpu_share: ArrayLike,
) -> np.ndarray:
    """Compute latency of a request given a time-sliced share of one GPU.

    Parameters
    ----------
    profile : ServingProfile
        Model, GPU, efficiencies and framework slowdown.
    prompt_tokens, output_tokens : array_like of int
        Request sizes (see :func:`decode_time_s`).
    gpu_share : array_like of float
        Fraction of the GPU's time allocated to the request, in (0, 1].

    Returns
    -------
    numpy.ndarray
        ``full_gpu_compute_time_s / gpu_share`` in seconds (broadcast over all inputs).

    Raises
    ------
    ValueError
        If any ``gpu_share`` is outside (0, 1] (or not finite).
    """
    share = np.asarray(gpu_share, dtype=float)
    if not np.all((share > 0.0) & (share <= 1.0)):
        raise ValueError(f"`gpu_share` must be in (0, 1], got {gpu_share!r}")
    return np.asarray(full_gpu_compute_time_s(profile, prompt_tokens, output_tokens) / share)
