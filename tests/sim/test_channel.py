"""Radio link (eqs. 3-7) against hand computations with ``math``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aif_offload.sim import channel
from aif_offload.sim.scenario import RadioConfig

RADIO = RadioConfig()  # the paper scenario's radio block equals these defaults
C = 299_792_458.0


def test_default_radio_matches_paper_scenario() -> None:
    from aif_offload.scenarios import load_scenario

    assert load_scenario("paper").radio == RADIO


def test_noise_power_one_mhz() -> None:
    # -174 dBm/Hz + 10 log10(1e6) + 9 dB = -105 dBm
    assert float(channel.noise_power_dbm(1e6, RADIO)) == pytest.approx(-105.0, abs=1e-12)
    assert float(channel.noise_power_dbm(20e6, RADIO)) == pytest.approx(
        -174.0 + 10 * math.log10(20e6) + 9.0, abs=1e-12
    )


def test_shannon_rate_hand_computation() -> None:
    w, p_dbm, g_db = 1e6, 23.0, -100.0
    noise_dbm = -174.0 + 10.0 * math.log10(w) + 9.0
    snr = 10.0 ** ((p_dbm + g_db - noise_dbm) / 10.0)  # 28 dB
    assert snr == pytest.approx(10**2.8)
    expected = w * math.log2(1.0 + snr)
    assert expected == pytest.approx(9.3037e6, rel=1e-4)  # literal sanity value
    assert float(channel.snr_linear(w, p_dbm, g_db, RADIO)) == pytest.approx(snr, rel=1e-12)
    assert float(channel.shannon_rate_bps(w, p_dbm, g_db, RADIO)) == pytest.approx(
        expected, rel=1e-12
    )


def test_shannon_rate_broadcasts_and_grows_with_bandwidth_sublinearly() -> None:
    w = np.array([1e6, 2e6, 5e6])
    rate = channel.shannon_rate_bps(w, 23.0, np.array([[-100.0], [-120.0]]), RADIO)
    assert rate.shape == (2, 3)
    for i, g in enumerate((-100.0, -120.0)):
        for j, wj in enumerate(w):
            snr = 10 ** ((23.0 + g - (-174.0 + 10 * math.log10(wj) + 9.0)) / 10)
            assert rate[i, j] == pytest.approx(wj * math.log2(1 + snr), rel=1e-12)
    # More bandwidth is more rate, but less than proportionally (noise grows with W).
    assert np.all(np.diff(rate, axis=1) > 0)
    assert np.all(rate[:, 1] < 2 * rate[:, 0])


def test_zero_snr_gives_zero_rate_limit() -> None:
    assert float(channel.shannon_rate_bps(1e6, -30.0, -300.0, RADIO)) == pytest.approx(
        0.0, abs=1e-6
    )


@pytest.mark.parametrize(
    ("d_m", "expected"),
    [
        (1000.0, 128.1),
        (2000.0, 128.1 + 37.6 * math.log10(2.0)),
        (500.0, 128.1 + 37.6 * math.log10(0.5)),
        (10_000.0, 128.1 + 37.6),
    ],
)
def test_ground_ground_eq5_in_km(d_m: float, expected: float) -> None:
    got = channel.path_loss_db(d_m, channel.GROUND_GROUND, RADIO)
    assert float(got) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("d_m", "expected"),
    [(100.0, 22.0 * 2 + 34.0), (1000.0, 22.0 * 3 + 34.0), (250.0, 22.0 * math.log10(250) + 34)],
)
def test_ground_air_eq6(d_m: float, expected: float) -> None:
    got = channel.path_loss_db(d_m, channel.GROUND_AIR, RADIO)
    assert float(got) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("d_m", "expected"),
    [(100.0, 20.0 * 2 + 38.5), (1000.0, 20.0 * 3 + 38.5), (42.0, 20 * math.log10(42) + 38.5)],
)
def test_air_air_eq7(d_m: float, expected: float) -> None:
    got = channel.path_loss_db(d_m, channel.AIR_AIR, RADIO)
    assert float(got) == pytest.approx(expected, abs=1e-9)


def test_air_air_literal_form_without_intercept() -> None:
    radio = RadioConfig(aa_intercept_db=0.0, aa_alpha=1.8)
    assert float(channel.path_loss_db(1000.0, channel.AIR_AIR, radio)) == pytest.approx(54.0)


def test_custom_coefficients_are_used() -> None:
    radio = RadioConfig(gg_intercept_db=100.0, gg_slope_db=30.0, ga_alpha=3.0, ga_intercept_db=10.0)
    assert float(channel.path_loss_db(1000.0, 0, radio)) == pytest.approx(100.0)
    assert float(channel.path_loss_db(100.0, 0, radio)) == pytest.approx(70.0)
    assert float(channel.path_loss_db(100.0, 1, radio)) == pytest.approx(70.0)


def test_path_loss_vectorised_over_kinds() -> None:
    d = np.array([1000.0, 1000.0, 1000.0])
    kinds = np.array([0, 1, 2])
    np.testing.assert_allclose(
        channel.path_loss_db(d, kinds, RADIO), [128.1, 100.0, 98.5], atol=1e-9
    )


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        (1.5, 25.0, 0),
        (99.9, 100.0, 0),  # exactly 100 m is still ground
        (100.01, 25.0, 1),
        (25.0, 150.0, 1),
        (120.0, 300.0, 2),
        (0.0, 0.0, 0),
    ],
)
def test_link_kind(a: float, b: float, kind: int) -> None:
    assert int(channel.link_kind(np.array(a), np.array(b))) == kind
    assert int(channel.link_kind(np.array(b), np.array(a))) == kind  # symmetric


def test_link_kind_broadcasts() -> None:
    terminals = np.array([[1.5], [200.0]])
    servers = np.array([25.0, 150.0])
    np.testing.assert_array_equal(channel.link_kind(terminals, servers), [[0, 1], [1, 2]])


@settings(max_examples=50, deadline=None)
@given(
    d=st.floats(min_value=10.0, max_value=1e5),
    kind=st.sampled_from([0, 1, 2]),
)
def test_coefficients_agree_with_path_loss(d: float, kind: int) -> None:
    intercept, slope = channel.path_loss_coefficients(np.array(kind), RADIO)
    expected = float(intercept) + float(slope) * math.log10(d)
    assert float(channel.path_loss_db(d, np.array(kind), RADIO)) == pytest.approx(
        expected, abs=1e-9
    )


def test_coefficients_values() -> None:
    intercept, slope = channel.path_loss_coefficients(np.array([0, 1, 2]), RADIO)
    np.testing.assert_allclose(intercept, [128.1 - 3 * 37.6, 34.0, 38.5])
    np.testing.assert_allclose(slope, [37.6, 22.0, 20.0])


def test_min_distance_clamp() -> None:
    for kind in (0, 1, 2):
        at_min = float(channel.path_loss_db(10.0, kind, RADIO))
        for d in (0.0, 1e-9, 3.0, 9.999):
            assert float(channel.path_loss_db(d, kind, RADIO)) == at_min
        assert float(channel.path_loss_db(10.5, kind, RADIO)) > at_min
    radio = RadioConfig(min_distance_m=100.0)
    assert float(channel.path_loss_db(1.0, 2, radio)) == pytest.approx(40.0 + 38.5)


def test_propagation_delay() -> None:
    assert float(channel.propagation_delay_s(C)) == pytest.approx(1.0, rel=1e-15)
    assert float(channel.propagation_delay_s(1000.0)) == pytest.approx(1000.0 / C, rel=1e-15)
    assert float(channel.propagation_delay_s(1000.0)) == pytest.approx(3.3356409519815204e-6)
    np.testing.assert_array_equal(channel.propagation_delay_s([0.0, 0.0]), [0.0, 0.0])


def test_channel_gain_eq4() -> None:
    # g - PL - X = 15 - 128.1 - 3
    got = channel.channel_gain_db(1000.0, 0, 3.0, RADIO)
    assert float(got) == pytest.approx(15.0 - 128.1 - 3.0, abs=1e-9)
    got = channel.channel_gain_db(
        np.array([100.0, 100.0]), np.array([1, 2]), np.array([-2.0, 0.0]), RADIO
    )
    np.testing.assert_allclose(got, [15.0 - 78.0 + 2.0, 15.0 - 78.5], atol=1e-9)


def test_shadowing_std_by_kind() -> None:
    np.testing.assert_array_equal(
        channel.shadowing_std_db(np.array([0, 1, 2, 0]), RADIO), [8.0, 4.2, 2.0, 8.0]
    )
