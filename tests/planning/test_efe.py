"""Expected free energy on hand-built cases."""

from __future__ import annotations

import numpy as np

from aif_offload.planning.efe import Preferences, expected_free_energy


def _efe(p, mu, sd=0.1, accuracy=0.15, **kw):
    p, mu = np.asarray(p, float), np.asarray(mu, float)
    return expected_free_energy(
        p, mu, np.full_like(mu, sd), np.full(p.shape[1:], accuracy), Preferences(**kw)
    )


def test_disagreement_about_completion_gives_information_gain():
    # Two actions (last axis), three models (first axis): models agree on action 0, not on 1.
    p = [[0.5, 0.05], [0.5, 0.95], [0.5, 0.5]]
    mu = np.log([[5.0, 5.0]] * 3)
    terms = _efe(p, mu)
    assert terms.info_gain[1] > terms.info_gain[0] + 0.1
    assert terms.info_gain[0] < 1e-9


def test_disagreement_about_latency_gives_information_gain():
    p = [[0.9, 0.9]] * 3
    mu = np.log([[5.0, 2.0], [5.0, 8.0], [5.0, 4.0]])
    terms = _efe(p, mu)
    assert terms.info_gain[1] > terms.info_gain[0] + 0.1


def test_meeting_the_deadline_has_lower_risk():
    p = [[0.99, 0.2]] * 2
    mu = np.log([[9.0, 9.0]] * 2)
    terms = _efe(p, mu)
    assert terms.risk[0] < terms.risk[1]


def test_completion_comes_before_latency_and_accuracy():
    # Sure to complete but slow, against fast and accurate but a coin flip.
    p = [[1.0, 0.5]]
    mu = np.log([[12.0, 2.0]])
    terms = expected_free_energy(
        np.asarray(p), mu, np.full_like(mu, 0.05), np.array([0.1159, 0.1892])
    )
    assert terms.risk[0] < terms.risk[1]
    # Among sure completions, lower latency and higher accuracy are preferred.
    p = [[1.0, 1.0]]
    mu = np.log([[2.0, 9.0]])
    terms = expected_free_energy(np.asarray(p), mu, np.full_like(mu, 0.05), np.array([0.19, 0.19]))
    assert terms.risk[0] < terms.risk[1]


def test_efe_combines_risk_and_weighted_information_gain():
    p = [[0.2, 0.9], [0.8, 0.9]]
    mu = np.log([[5.0, 5.0], [5.0, 5.0]])
    terms = _efe(p, mu, info_gain_weight=2.0)
    np.testing.assert_allclose(terms.efe, terms.risk - 2.0 * terms.info_gain)
