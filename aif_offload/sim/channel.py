"""Radio link: equations 3-7 of He et al. (2024), vectorised over any array shape.

Rate (3): R = W log2(1 + P G / N). Gain (4): G = g - PL - X_sigma in dB. Path loss: ground-to-ground
(5) 128.1 + 37.6 log10(d_km), ground-to-air (6) 10 alpha log10(d_m) + C, air-to-air (7)
10 alpha log10(d_m) + C (the paper writes (7) without C; the free-space intercept is explicit here,
set it to 0 for the literal form). A node is airborne above 100 m.
"""

from __future__ import annotations

import numpy as np

from aif_offload.sim.scenario import RadioConfig

SPEED_OF_LIGHT_M_S = 299_792_458.0
AIR_ALTITUDE_M = 100.0

GROUND_GROUND = 0
GROUND_AIR = 1
AIR_AIR = 2


def link_kind(altitude_a_m: np.ndarray, altitude_b_m: np.ndarray) -> np.ndarray:
    """0 ground-ground, 1 ground-air, 2 air-air: the number of endpoints above 100 m."""
    airborne_a = np.asarray(altitude_a_m) > AIR_ALTITUDE_M
    airborne_b = np.asarray(altitude_b_m) > AIR_ALTITUDE_M
    return airborne_a.astype(np.int8) + airborne_b.astype(np.int8)


def path_loss_coefficients(kind: np.ndarray, radio: RadioConfig) -> tuple[np.ndarray, np.ndarray]:
    """(intercept, slope) in dB with PL = intercept + slope log10(d / 1 m) for each link kind.

    All three laws have this form: eq. 5 in km is 128.1 - 3 x 37.6 + 37.6 log10(d_m).
    """
    intercept = np.array(
        [
            radio.gg_intercept_db - 3.0 * radio.gg_slope_db,
            radio.ga_intercept_db,
            radio.aa_intercept_db,
        ]
    )
    slope = np.array([radio.gg_slope_db, 10.0 * radio.ga_alpha, 10.0 * radio.aa_alpha])
    kind = np.asarray(kind)
    return intercept[kind], slope[kind]


def path_loss_db(distance_m: np.ndarray, kind: np.ndarray, radio: RadioConfig) -> np.ndarray:
    """Path loss by link kind; distances below ``radio.min_distance_m`` are clamped (far-field laws)."""
    intercept, slope = path_loss_coefficients(kind, radio)
    return intercept + slope * np.log10(np.maximum(distance_m, radio.min_distance_m))


def shadowing_std_db(kind: np.ndarray, radio: RadioConfig) -> np.ndarray:
    """Standard deviation of the log-normal shadowing for each link kind."""
    table = np.array([radio.shadowing_gg_db, radio.shadowing_ga_db, radio.shadowing_aa_db])
    return table[np.asarray(kind)]


def channel_gain_db(
    distance_m: np.ndarray, kind: np.ndarray, shadowing_db: np.ndarray, radio: RadioConfig
) -> np.ndarray:
    """Eq. 4: G = g - PL - X_sigma, with X_sigma given (drawn by the workload)."""
    return radio.antenna_gain_db - path_loss_db(distance_m, kind, radio) - shadowing_db


def noise_power_dbm(bandwidth_hz: np.ndarray, radio: RadioConfig) -> np.ndarray:
    """Thermal noise over the band plus the receiver noise figure."""
    return (
        radio.noise_psd_dbm_hz
        + 10.0 * np.log10(np.asarray(bandwidth_hz, float))
        + radio.noise_figure_db
    )


def snr_linear(
    bandwidth_hz: np.ndarray, tx_power_dbm: np.ndarray, gain_db: np.ndarray, radio: RadioConfig
) -> np.ndarray:
    """P G / N as a linear ratio."""
    return 10.0 ** ((tx_power_dbm + gain_db - noise_power_dbm(bandwidth_hz, radio)) / 10.0)


def shannon_rate_bps(
    bandwidth_hz: np.ndarray, tx_power_dbm: np.ndarray, gain_db: np.ndarray, radio: RadioConfig
) -> np.ndarray:
    """Eq. 3: R = W log2(1 + P G / N) in bit/s."""
    bandwidth_hz = np.asarray(bandwidth_hz, dtype=float)
    return bandwidth_hz * np.log2(1.0 + snr_linear(bandwidth_hz, tx_power_dbm, gain_db, radio))


def propagation_delay_s(distance_m: np.ndarray) -> np.ndarray:
    """Distance over the speed of light."""
    return np.asarray(distance_m, dtype=float) / SPEED_OF_LIGHT_M_S
