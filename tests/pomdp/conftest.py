"""A two-state model small enough to check pymdp's numbers by hand."""

from __future__ import annotations

import pytest

from aif_offload.pomdp import Control, Factor, Modality, ModelSpec


def traffic_light() -> ModelSpec:
    spec = ModelSpec(
        "traffic-light",
        factors=[Factor("light", ("red", "green"), controls=("switch",))],
        modalities=[Modality("seen", ("red", "green", "dark"), depends_on=("light",))],
        controls=[Control("switch", ("stay", "toggle"))],
    )
    spec.set_likelihood("seen", {"red": 0.7, "green": 0.1, "dark": 0.2}, light="red")
    spec.set_likelihood("seen", {"red": 0.2, "green": 0.6, "dark": 0.2}, light="green")
    spec.set_transition("light", [0.9, 0.1], light="red", switch="stay")
    spec.set_transition("light", [0.1, 0.9], light="green", switch="stay")
    spec.set_transition("light", [0.2, 0.8], light="red", switch="toggle")
    spec.set_transition("light", [0.8, 0.2], light="green", switch="toggle")
    spec.set_preference("seen", {"green": 2.0, "dark": -1.0})
    spec.set_initial("light", [0.3, 0.7])
    return spec


@pytest.fixture
def tiny() -> ModelSpec:
    return traffic_light()
