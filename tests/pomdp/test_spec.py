"""The named model layer: declaration checks, filling by level name, validation, build, xarray."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.pomdp import AgentConfig, Control, Factor, Modality, ModelSpec, build, to_xarray


def test_undeclared_dependencies_and_duplicate_names_are_refused():
    light = Factor("light", ("red", "green"))
    with pytest.raises(ValueError, match=r"modality 'seen'.*'colour'"):
        ModelSpec("m", factors=[light], modalities=[Modality("seen", ("a", "b"), ("colour",))])
    with pytest.raises(ValueError, match=r"factor 'light'.*control 'switch'"):
        ModelSpec(
            "m",
            factors=[Factor("light", ("r", "g"), controls=("switch",))],
            modalities=[Modality("seen", ("a",), ("light",))],
        )
    with pytest.raises(ValueError, match=r"factor 'light'.*depends_on 'weather'"):
        ModelSpec(
            "m",
            factors=[Factor("light", ("r", "g"), depends_on=("weather",))],
            modalities=[Modality("seen", ("a",), ("light",))],
        )
    with pytest.raises(ValueError, match="unique"):
        ModelSpec("m", factors=[light], modalities=[Modality("light", ("a",), ("light",))])
    with pytest.raises(ValueError, match="duplicate level"):
        ModelSpec("m", factors=[Factor("light", ("red", "red"))], modalities=[])


def test_slices_are_set_by_level_name(tiny):
    assert tiny.A["seen"][:, 1].tolist() == [0.2, 0.6, 0.2]
    assert tiny.B["light"][:, 0, 1].tolist() == [0.2, 0.8]  # from red, toggle
    assert tiny.A_dims("seen") == ("seen", "light")
    assert tiny.B_dims("light") == ("light_next", "light", "switch")
    with pytest.raises(ValueError, match="'light' has no level 'blue'"):
        tiny.set_likelihood("seen", [1, 0, 0], light="blue")
    with pytest.raises(ValueError, match="unknown level 'blue'"):
        tiny.set_likelihood("seen", {"blue": 1.0}, light="red")
    with pytest.raises(ValueError, match="'weather' is not one of its conditioning axes"):
        tiny.set_transition("light", [1, 0], weather="rain")
    with pytest.raises(ValueError, match="expected 3 values"):
        tiny.set_likelihood("seen", [0.5, 0.5], light="red")


def test_validation_names_the_modality_or_factor_and_the_offending_slice(tiny):
    tiny.set_likelihood("seen", [0.5, 0.1, 0.1], light="green")
    with pytest.raises(ValueError, match=r"modality 'seen': column \[light=green\] sums to 0.7"):
        build(tiny)
    tiny.set_likelihood("seen", [0.5, 0.4, 0.1], light="green")
    tiny.set_transition("light", [0.5, 0.4], light="red", switch="toggle")
    with pytest.raises(
        ValueError, match=r"factor 'light': column \[light=red, switch=toggle\] sums to 0.9"
    ):
        build(tiny)
    tiny.set_transition("light", [1.5, -0.5], light="red", switch="toggle")
    with pytest.raises(ValueError, match=r"factor 'light': negative .*light_next=green"):
        tiny.validate()
    tiny.set_transition("light", [0.5, 0.5], light="red", switch="toggle")
    tiny.A["seen"] = np.ones((3, 3)) / 3
    with pytest.raises(ValueError, match=r"modality 'seen': array shape \(3, 3\)"):
        tiny.validate()


def test_build_lays_out_pymdp_arrays_with_a_batch_axis(tiny):
    arrays = build(tiny, batch_size=3, pA_scale=10.0, pB_scale=5.0)
    assert arrays.A[0].shape == (3, 3, 2) and arrays.B[0].shape == (3, 2, 2, 2)
    assert arrays.A_dependencies == [[0]] and arrays.B_dependencies == [[0]]
    assert arrays.B_action_dependencies == [[0]] and arrays.num_controls == [2]
    np.testing.assert_allclose(arrays.pA[0], 10.0 * arrays.A[0])
    np.testing.assert_allclose(arrays.pB[0], 5.0 * arrays.B[0])
    with pytest.raises(ValueError, match="pA_scale"):
        build(tiny, pA_scale=0.0)


def test_agent_config_is_checked():
    with pytest.raises(ValueError, match="learn_B: needs pB_scale"):
        AgentConfig(learn_B=True)
    with pytest.raises(ValueError, match="policy_len"):
        AgentConfig(policy_len=0)
    with pytest.raises(ValueError, match="inference_algo"):
        AgentConfig(inference_algo="mmp")
    with pytest.raises(AttributeError):
        AgentConfig().gamma = 2.0  # frozen


def test_xarray_export_has_named_dims_and_level_coords(tiny):
    ds = to_xarray(tiny)
    assert ds["A_seen"].dims == ("seen", "light")
    assert ds["B_light"].dims == ("light_next", "light", "switch")
    assert ds["B_light"].sel(light="red", switch="toggle", light_next="green").item() == 0.8
    assert list(ds["seen"].values) == ["red", "green", "dark"]
    assert ds["C_seen"].sel(seen="green").item() == 2.0


def test_factor_with_two_controls_and_a_dependency():
    spec = ModelSpec(
        "two",
        factors=[
            Factor("a", ("x", "y")),
            Factor("b", ("p", "q"), depends_on=("a",), controls=("u", "v")),
        ],
        modalities=[Modality("o", ("k", "l"), depends_on=("a", "b"))],
        controls=[Control("u", ("0", "1")), Control("v", ("0", "1", "2"))],
    )
    assert spec.B_shape("b") == (2, 2, 2, 2, 3)
    spec.set_transition("a", [1.0, 0.0])
    spec.set_transition("b", [0.5, 0.5])
    spec.set_likelihood("o", [0.5, 0.5])
    arrays = build(spec)
    assert arrays.B_dependencies == [[0], [1, 0]]
    assert arrays.B_action_dependencies == [[], [0, 1]]
    assert arrays.num_controls == [2, 3]
