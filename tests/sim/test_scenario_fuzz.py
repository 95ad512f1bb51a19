"""Property-based checks of scenario validation and of the simulator on varied valid scenarios."""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from aif_offload.scenarios import ScenarioError, validate
from aif_offload.sim.simulator import BatchedSimulator
from tests.sim.helpers import paper_table, random_actions

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def levels(low: float, high: float) -> st.SearchStrategy[list[float]]:
    return st.lists(
        st.floats(low, high, allow_nan=False, allow_infinity=False),
        min_size=1,
        max_size=4,
        unique=True,
    )


@st.composite
def valid_tables(draw) -> dict:
    table = paper_table()
    episode = table["episode"]
    episode["t_max_s"] = draw(st.floats(0.5, 60.0, exclude_min=True))
    episode["load_percent"] = draw(st.floats(10.0, 300.0))
    episode["arrival"] = draw(st.sampled_from(["per_step", "poisson", "trace"]))
    episode["tokens"] = draw(st.sampled_from(["humaneval", "trace"]))
    episode["trace"] = draw(st.sampled_from(["azure-conv", "azure-code"]))
    table["actions"] = {
        "compute_shares": draw(levels(0.05, 1.0)),
        "bandwidth_mhz": draw(levels(0.1, 20.0)),
        "memory_gb": draw(levels(0.05, 4.0)),
    }
    cloud, edge = table["servers"][0], table["servers"][1]
    servers = [cloud]
    for i in range(draw(st.integers(1, 6))):
        site = copy.deepcopy(edge)
        site["name"] = f"edge-{i + 1}"
        site["position_m"] = [
            draw(st.floats(0.0, 2000.0)),
            draw(st.floats(0.0, 2000.0)),
            draw(st.floats(0.0, 200.0)),  # some sites above 100 m: air links
        ]
        site["max_parallel"] = draw(st.integers(1, 20))
        servers.append(site)
    table["servers"] = servers
    table["observation"]["mode"] = draw(st.sampled_from(["full", "partial"]))
    table["observation"]["report_delay_steps"] = draw(st.integers(0, 5))
    if draw(st.booleans()):
        _hidden_world(draw, table)
    return table


def _hidden_world(draw, table: dict) -> None:
    """Tenants on some edges, varying service times, unknown output lengths, the clock."""
    observation = table["observation"]
    observation["clock"] = draw(st.booleans())
    observation["output_prediction"] = draw(st.sampled_from(["exact", "noisy", "band"]))
    observation["prediction_sigma"] = draw(st.floats(0.0, 2.0))
    observation["band_ratio"] = draw(st.floats(1.1, 8.0))
    table["tokens"]["output_distribution"] = draw(st.sampled_from(["uniform", "lognormal"]))
    table["tokens"]["output_sigma"] = draw(st.floats(0.0, 2.0))
    regime = st.fixed_dictionaries(
        {
            "name": st.sampled_from(["quiet", "busy", "surge"]),
            "arrival_per_s": st.floats(0.0, 5.0),
            "mean_dwell_s": st.floats(0.5, 500.0),
        }
    )
    tenants = {}
    for server in table["servers"]:
        if draw(st.booleans()):
            regimes = draw(st.lists(regime, min_size=1, max_size=3, unique_by=lambda r: r["name"]))
            tenants[server["name"]] = {
                "mean_job_s": draw(st.floats(0.5, 100.0)),
                "regimes": regimes,
            }
    table["hidden"] = {
        "tenants": tenants,
        "service": {
            "speed_sigma": draw(st.floats(0.0, 1.0)),
            "drift_sigma": draw(st.floats(0.0, 1.0)),
            "drift_time_s": draw(st.floats(1.0, 1000.0)),
            "throttle_per_s": draw(st.floats(0.0, 1.0)),
            "throttle_mean_s": draw(st.floats(0.5, 100.0)),
            "throttle_speed": draw(st.floats(0.05, 1.0)),
            "task_sigma": draw(st.floats(0.0, 1.0)),
        },
    }


def assert_finite(name: str, values) -> None:
    values = np.asarray(values, dtype=float)
    assert np.all(np.isfinite(values)), f"{name} has non-finite values"


@FUZZ
@given(table=valid_tables(), seed=st.integers(0, 2**31 - 1))
def test_valid_scenarios_run_an_episode_with_finite_numbers(table: dict, seed: int) -> None:
    scenario = validate(table, "fuzz")
    sim = BatchedSimulator(scenario, batch_size=2)
    sim.reset([seed, seed + 1])
    rng = np.random.default_rng(seed)
    steps = 0
    while not sim.done.any():
        view = sim.agent_view()
        for field in dataclasses.fields(view):
            assert_finite(f"agent_view.{field.name}", getattr(view, field.name))
        assert np.all((view.remaining_fraction >= -1e-9) & (view.remaining_fraction <= 1 + 1e-9))
        result = sim.step(random_actions(sim, rng))
        for name in ("latency_s", "reward", "guidance"):
            assert_finite(name, getattr(result, name))
        assert np.all(result.latency_s > 0)
        remaining = sim.remaining()
        assert np.all(remaining >= -1e-9)
        assert np.all(remaining <= sim.servers.capacity[None] + 1e-9)
        steps += 1
    assert steps == scenario.episode.num_tasks == max(1, round(table["episode"]["load_percent"]))


# ------------------------------------------------------------------------------ invalid tables
def _set(section: str, key: str):
    def edit(table: dict, value) -> None:
        table[section][key] = value

    return edit


def _unknown_gpu(table: dict, value) -> None:
    table["servers"][1]["gpu"] = value


def _duplicate_name(table: dict, value) -> None:
    table["servers"][value % 4 + 1]["name"] = table["servers"][0]["name"]


def _air_low(table: dict, value) -> None:
    table["terminals"]["air_altitude_m"] = [value, 300.0]


def _share(table: dict, value) -> None:
    table["actions"]["compute_shares"] = [0.25, value]


NAME = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=12
).filter(lambda s: s not in {"a800-80gb", "rtx-3090"})

INVALID = [
    # (edit, strategy for the bad value, text that must appear in the message)
    (_set("episode", "t_max_s"), st.floats(-1e6, 0.0), "episode.t_max_s"),
    (_set("episode", "load_percent"), st.just(0.0), "episode.load_percent"),
    (_set("episode", "load_percent"), st.floats(-1e3, 0.0), "episode.load_percent"),
    (_share, st.floats(1.0001, 100.0), "actions.compute_shares"),
    (_share, st.just(1.5), "actions.compute_shares"),
    (_unknown_gpu, NAME, "servers[1].gpu"),
    (_duplicate_name, st.integers(0, 3), "servers"),
    (_air_low, st.floats(0.0, 100.0), "air_altitude_m"),
    (_set("observation", "mode"), st.sampled_from(["none", "FULL", ""]), "observation.mode"),
    (_set("episode", "arrival"), st.sampled_from(["uniform", "burst"]), "episode.arrival"),
]


@settings(max_examples=50, deadline=None)
@given(case=st.integers(0, len(INVALID) - 1), data=st.data())
def test_invalid_values_raise_one_line_scenario_error_naming_the_field(case: int, data) -> None:
    edit, values, field = INVALID[case]
    table = paper_table()
    edit(table, data.draw(values))
    with pytest.raises(ScenarioError) as info:
        validate(table, "fuzz")
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    assert field in message, message


KEY = st.from_regex(r"[a-z][a-z0-9_]{0,15}", fullmatch=True)


@settings(max_examples=30, deadline=None)
@given(section=st.sampled_from(["", "episode", "radio", "terminals", "actions"]), key=KEY)
def test_unknown_field_is_rejected_by_path(section: str, key: str) -> None:
    table = paper_table()
    target = table if not section else table[section]
    assume(key not in target and key != "extends")
    target[key] = 1
    with pytest.raises(ScenarioError) as info:
        validate(table, "fuzz")
    message = str(info.value)
    assert len(message.splitlines()) == 1, message
    path = f"{section}.{key}" if section else key
    assert f"{path}: unknown field" in message, message


def test_examples_from_the_brief() -> None:
    cases = {
        "episode.t_max_s": lambda t: t["episode"].update(t_max_s=-1.0),
        "episode.load_percent": lambda t: t["episode"].update(load_percent=0),
        "actions.compute_shares": lambda t: t["actions"].update(compute_shares=[1.5]),
        "servers[2].gpu": lambda t: t["servers"][2].update(gpu="h100"),
        "names must be unique": lambda t: t["servers"][2].update(name="edge-1"),
        "episode.colour": lambda t: t["episode"].update(colour="red"),
        "air_altitude_m": lambda t: t["terminals"].update(air_altitude_m=[50.0, 300.0]),
    }
    for field, edit in cases.items():
        table = paper_table()
        edit(table)
        with pytest.raises(ScenarioError, match=field.replace("[", r"\[").replace("]", r"\]")):
            validate(table, "fuzz")


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t["servers"][0].update(position_m=[math.nan, 1000.0, 35.0]),
        lambda t: t["radio"].update(gg_intercept_db=math.nan),
        lambda t: t["terminals"].update(area_m=[math.inf, 2000.0]),
        lambda t: t["gpus"]["rtx-3090"].update(memory_gb=math.inf),
        lambda t: t["radio"].update(min_distance_m=math.inf),
    ],
    ids=["position-nan", "intercept-nan", "area-inf", "gpu-memory-inf", "min-distance-inf"],
)
def test_non_finite_values_are_rejected(edit) -> None:
    table = paper_table()
    edit(table)
    with pytest.raises(ScenarioError):
        validate(table, "fuzz")


@pytest.mark.parametrize("where", ["gpu", "extra-key"])
def test_message_stays_one_line_with_newlines_in_names(where: str) -> None:
    table = paper_table()
    if where == "gpu":
        table["servers"][1]["gpu"] = "rtx\n3090"
    else:
        table["episode"]["bad\nkey"] = 1
    with pytest.raises(ScenarioError) as info:
        validate(table, "fuzz")
    assert len(str(info.value).splitlines()) == 1, str(info.value)


# ------------------------------------------------------------------------------ bad actions
@pytest.fixture(scope="module")
def sim() -> BatchedSimulator:
    from tests.sim.helpers import make_sim, paper

    return make_sim(paper(), [0, 1, 2])


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(row=st.integers(0, 2), col=st.integers(0, 3), over=st.booleans(), by=st.integers(0, 1000))
def test_out_of_range_actions_raise_value_error(
    sim, row: int, col: int, over: bool, by: int
) -> None:
    actions = np.zeros((3, 4), dtype=np.int64)
    actions[row, col] = sim.action_nvec[col] + by if over else -1 - by
    index = sim.task_index.copy()
    with pytest.raises(ValueError, match="actions"):
        sim.step(actions)
    with pytest.raises(ValueError, match="actions"):
        sim.evaluate(actions)
    np.testing.assert_array_equal(sim.task_index, index)  # nothing happened


@pytest.mark.parametrize("shape", [(3,), (2, 4), (3, 3), (3, 5), (1, 3, 4)])
def test_wrongly_shaped_actions_raise_value_error(sim, shape) -> None:
    with pytest.raises(ValueError, match="actions"):
        sim.step(np.zeros(shape, dtype=np.int64))


def test_largest_valid_action_is_accepted(sim) -> None:
    result = sim.evaluate(np.tile(sim.action_nvec - 1, (3, 1)))
    assert result.latency_s.shape == (3,)


@pytest.mark.parametrize("bad", [1.5, math.nan])
def test_non_integer_actions_raise_value_error(sim, bad: float) -> None:
    actions = np.zeros((3, 4))
    actions[1, 3] = bad
    with pytest.raises(ValueError, match="actions"):
        sim.evaluate(actions)
