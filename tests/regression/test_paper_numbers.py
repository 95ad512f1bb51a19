"""``paper`` (and the trace scenario ``azure-conv``) give exactly the numbers they gave before the
hidden world existed: per-episode completion, latency, pass@100 and reward of the rules and the
oracle, for three seeds, compared to the last digit (floats written with ``repr``).

The pinned file was written by ``tests/regression/pinned.py`` at commit bf835ff, before any of the
hidden-world features were added; it must never be rewritten to make this test pass.
"""

from __future__ import annotations

import json
import math

import pytest

from tests.regression.pinned import AGENTS, PINNED_FILE, SCENARIOS, measure


@pytest.fixture(scope="module")
def measured():
    return measure()


@pytest.fixture(scope="module")
def pinned():
    return json.loads(PINNED_FILE.read_text())


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("agent", AGENTS)
def test_numbers_are_the_pinned_ones_to_the_last_digit(measured, pinned, scenario, agent):
    now, then = measured[scenario][agent], pinned[scenario][agent]
    assert sorted(now) == sorted(then)
    for key, values in then.items():
        for new, old in zip(now[key], values, strict=True):
            same = (math.isnan(new) and math.isnan(old)) or new == old
            assert same, f"{scenario} {agent} {key}: {new!r} != pinned {old!r}"
