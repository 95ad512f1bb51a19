"""Closed-form and independent checks of the LLM compute-latency model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aif_offload.sim.llm_latency import (
    A800_80GB,
    GPT_J_6B,
    LLAMA2_7B,
    RTX_3090,
    GpuSpec,
    ModelSpec,
    ServingProfile,
    compute_time_s,
    decode_time_s,
    full_gpu_compute_time_s,
    kv_cache_bytes,
    kv_cache_bytes_per_token,
    prefill_time_s,
    weights_bytes,
)

CLOUD = ServingProfile(A800_80GB, GPT_J_6B, memory_efficiency=0.7, compute_efficiency=0.6)
EDGE = ServingProfile(RTX_3090, GPT_J_6B, 0.7, 0.6, framework_slowdown=2.0)

# A toy model on a toy GPU whose per-step compute and memory terms are of the same size, so that
# decode crosses from compute-bound to memory-bound within a few tokens: W = 2e6 B, 4000 B/token of
# KV cache, 1 GB/s, 1 GFLOP/s; the crossover is at context 7 + 2.5 tokens.
TOY_MODEL = ModelSpec("toy", 1e6, 2.0, num_layers=1, num_kv_heads=1, head_dim=1000)
TOY_GPU = GpuSpec("toy", peak_fp16_tflops=1e-3, memory_bandwidth_gbps=1.0, memory_gb=1.0)
TOY = ServingProfile(TOY_GPU, TOY_MODEL, 1.0, 2e6 / (2.038e-3 * 1e9))

PROFILES = [CLOUD, EDGE, TOY]


def brute_force_decode(profile: ServingProfile, prompt: int, output: int) -> tuple[float, int]:
    """Sum of max(memory, compute) per decode step, with datasheet numbers; and #compute-bound."""
    m = profile.model
    bw = profile.gpu.memory_bandwidth_gbps * 1e9 * profile.memory_efficiency
    flops = profile.gpu.peak_fp16_tflops * 1e12 * profile.compute_efficiency
    weights = m.num_params * m.bytes_per_param
    per_token = 2 * m.kv_bytes_per_value * m.head_dim * m.num_kv_heads * m.num_layers
    total, compute_bound = 0.0, 0
    for i in range(output):
        memory_s = (weights + per_token * (prompt + i)) / bw
        compute_s = 2 * m.num_params / flops
        total += max(memory_s, compute_s)
        compute_bound += compute_s > memory_s
    return total * profile.framework_slowdown, compute_bound


def test_kv_cache_per_token_gpt_j() -> None:
    assert kv_cache_bytes_per_token(GPT_J_6B) == 2 * 2 * 256 * 16 * 28 == 458_752
    assert kv_cache_bytes_per_token(GPT_J_6B) / 2**20 == pytest.approx(0.4375)


def test_kv_cache_per_token_llama2_7b_is_half_a_mib() -> None:
    assert kv_cache_bytes_per_token(LLAMA2_7B) == 2**19


def test_kv_cache_bytes_scales_with_tokens() -> None:
    np.testing.assert_array_equal(kv_cache_bytes(GPT_J_6B, [0, 1, 10]), [0, 458_752, 4_587_520])


def test_weights_bytes() -> None:
    assert weights_bytes(GPT_J_6B) == pytest.approx(12.1e9)
    assert weights_bytes(LLAMA2_7B) == pytest.approx(13.48e9)


def test_prefill_memory_bound_for_one_token() -> None:
    expected = 6.05e9 * 2 / (2039e9 * 0.7)
    assert expected > 2 * 6.05e9 * 1 / (312e12 * 0.6)  # memory term dominates
    assert float(prefill_time_s(CLOUD, 1)) == pytest.approx(expected, rel=1e-12)


def test_prefill_compute_bound_for_4096_tokens() -> None:
    expected = 2 * 6.05e9 * 4096 / (312e12 * 0.6)
    assert expected > 6.05e9 * 2 / (2039e9 * 0.7)  # compute term dominates
    assert float(prefill_time_s(CLOUD, 4096)) == pytest.approx(expected, rel=1e-12)


def test_decode_matches_brute_force_across_the_crossover() -> None:
    expected, compute_bound = brute_force_decode(TOY, prompt=7, output=5)
    assert compute_bound == 3  # both regimes are exercised
    assert float(decode_time_s(TOY, 7, 5)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("profile", [CLOUD, EDGE])
@pytest.mark.parametrize(("prompt", "output"), [(7, 5), (130, 260), (1, 1), (5, 0)])
def test_decode_matches_brute_force_realistic(
    profile: ServingProfile, prompt: int, output: int
) -> None:
    expected, _ = brute_force_decode(profile, prompt, output)
    assert float(decode_time_s(profile, prompt, output)) == pytest.approx(expected, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    prompt=st.integers(1, 64),
    output=st.integers(0, 40),
    compute_efficiency=st.floats(0.9, 1.0),
)
def test_decode_closed_form_equals_loop_property(
    prompt: int, output: int, compute_efficiency: float
) -> None:
    profile = ServingProfile(TOY_GPU, TOY_MODEL, 1.0, compute_efficiency)
    expected, _ = brute_force_decode(profile, prompt, output)
    assert float(decode_time_s(profile, prompt, output)) == pytest.approx(
        expected, rel=1e-9, abs=1e-15
    )


def test_full_time_is_prefill_plus_decode() -> None:
    expected = float(prefill_time_s(CLOUD, 130)) + float(decode_time_s(CLOUD, 130, 260))
    assert float(full_gpu_compute_time_s(CLOUD, 130, 260)) == pytest.approx(expected, rel=1e-12)


def test_half_share_doubles_time() -> None:
    full = float(full_gpu_compute_time_s(EDGE, 130, 260))
    assert float(compute_time_s(EDGE, 130, 260, 1.0)) == pytest.approx(full, rel=1e-12)
    assert float(compute_time_s(EDGE, 130, 260, 0.5)) == pytest.approx(2 * full, rel=1e-12)
    assert float(compute_time_s(EDGE, 130, 260, 0.25)) == pytest.approx(4 * full, rel=1e-12)


@pytest.mark.parametrize("share", [0.0, 1.5, -0.1, math.nan, [0.5, 0.0]])
def test_invalid_share_raises(share: object) -> None:
    with pytest.raises(ValueError, match="gpu_share"):
        compute_time_s(CLOUD, 130, 260, share)


@pytest.mark.parametrize(("prompt", "output"), [(0, 10), (-1, 10), (10, -1), (10.5, 3), (3, 2.5)])
def test_invalid_tokens_raise(prompt: float, output: float) -> None:
    with pytest.raises(ValueError, match="tokens"):
        full_gpu_compute_time_s(CLOUD, prompt, output)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"memory_efficiency": 0.0},
        {"compute_efficiency": 1.2},
        {"framework_slowdown": 0.5},
    ],
)
def test_invalid_profile_raises(kwargs: dict[str, float]) -> None:
    base = {"memory_efficiency": 0.7, "compute_efficiency": 0.6, "framework_slowdown": 1.0}
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ServingProfile(A800_80GB, GPT_J_6B, **(base | kwargs))


@settings(max_examples=200, deadline=None)
@given(
    profile_index=st.integers(0, len(PROFILES) - 1),
    prompt=st.integers(1, 2048),
    output=st.integers(0, 512),
    extra_prompt=st.integers(0, 2048),
    extra_output=st.integers(0, 512),
)
def test_monotone_in_prompt_and_output(
    profile_index: int, prompt: int, output: int, extra_prompt: int, extra_output: int
) -> None:
    profile = PROFILES[profile_index]
    base = float(full_gpu_compute_time_s(profile, prompt, output))
    longer_prompt = float(full_gpu_compute_time_s(profile, prompt + extra_prompt, output))
    longer_output = float(full_gpu_compute_time_s(profile, prompt, output + extra_output))
    assert longer_prompt >= base * (1 - 1e-12)
    assert longer_output >= base * (1 - 1e-12)
    if extra_output > 0:
        assert longer_output > base
    assert float(decode_time_s(profile, prompt + extra_prompt, output)) >= float(
        decode_time_s(profile, prompt, output)
    ) * (1 - 1e-12)


@pytest.mark.parametrize("profile", PROFILES)
def test_vectorised_equals_elementwise(profile: ServingProfile) -> None:
    prompts = np.array([[1], [7], [130], [2000]])
    outputs = np.array([[0, 1, 5, 260, 600]])
    shares = np.array([0.25, 0.5, 0.75, 1.0, 1.0])
    got = compute_time_s(profile, prompts, outputs, shares)
    assert got.shape == (4, 5)
    for i, p in enumerate(prompts[:, 0]):
        for j, o in enumerate(outputs[0]):
            one = float(compute_time_s(profile, int(p), int(o), float(shares[j])))
            assert got[i, j] == pytest.approx(one, rel=1e-12)
    prefill = prefill_time_s(profile, prompts[:, 0])
    assert prefill.shape == (4,)
    assert prefill[2] == pytest.approx(float(prefill_time_s(profile, 130)), rel=1e-12)


@pytest.mark.parametrize("slowdown", [1.0, 1.5, 3.7])
def test_framework_slowdown_scales_linearly(slowdown: float) -> None:
    fast = ServingProfile(RTX_3090, GPT_J_6B, 0.7, 0.6, 1.0)
    slow = ServingProfile(RTX_3090, GPT_J_6B, 0.7, 0.6, slowdown)
    for fn, args in (
        (prefill_time_s, (4096,)),
        (decode_time_s, (130, 260)),
        (full_gpu_compute_time_s, (32, 248)),
    ):
        assert float(fn(slow, *args)) == pytest.approx(slowdown * float(fn(fast, *args)))


def _calibration_module():
    try:
        from aif_offload.analysis import calibrate_latency
    except ImportError:  # running from a checkout: analysis/ is not yet mapped into the package
        from analysis import calibrate_latency
    return calibrate_latency


def test_fitted_constants_from_vidur_are_efficiencies() -> None:
    cal = _calibration_module()
    data_dir = cal.default_data_dir()
    if not (data_dir / cal.VIDUR_CSV).is_file():
        pytest.skip(f"no {cal.VIDUR_CSV} in {data_dir}")
    constants = cal.fitted_constants(data_dir)
    for key, value in constants.items():
        if key.endswith("efficiency"):
            assert 0.0 < value <= 1.0, key
    # Independent: Vidur's A100 step is ~9.3-9.4 ms at 1-32 tokens (data README), and Llama-2-7B's
    # 13.48 GB of weights take 6.61 ms at 2039 GB/s.
    assert constants["a100_memory_efficiency"] == pytest.approx(
        13.48e9 / 2039e9 / 9.35e-3, abs=0.02
    )
    assert constants["unaccelerated_slowdown"] >= 1.0
    assert constants["edge_typical_s"] == pytest.approx(cal.EDGE_TARGET_S, rel=1e-9)
    assert 2.0 < constants["cloud_typical_s"] < 2.5  # paper: just over 2 s in the cloud
