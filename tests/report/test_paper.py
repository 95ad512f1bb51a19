"""Paper-vs-ours verdicts: a number within tolerance holds, one outside does not, short runs say so."""

from __future__ import annotations

from aif_offload.diagnostics.statistics import Estimate
from aif_offload.report.paper import PAPER_NUMBERS, PaperNumber, _compare_number, paper_vs_ours
from aif_offload.report.sources import load_experiment

from .synthetic import make_experiment


def test_the_papers_fig3_numbers_are_recorded_with_their_source():
    numbers = {(n.metric, n.method): n.value for n in PAPER_NUMBERS}
    assert numbers[("completion_rate", "proposed")] == 0.99
    assert numbers[("completion_rate", "PPO")] == 0.90
    assert numbers[("completion_rate", "Rainbow DQN")] == 0.85
    assert numbers[("completion_rate", "SAC")] == 0.80
    assert numbers[("mean_latency_s", "SAC")] == 10.0
    assert numbers[("mean_accuracy", "proposed")] == 0.175
    assert all(n.figure.startswith("Fig. 3") for n in PAPER_NUMBERS)


def test_verdicts(tmp_path):
    exp = load_experiment(
        make_experiment(tmp_path / "t", "training", agents=("aif-pyro", "greedy"), episodes=2)
    )
    number = PaperNumber("Fig. 3", "completion_rate", "proposed", 0.99, 0.05)
    holds = _compare_number(number, Estimate(0.97, 0.96, 0.98), exp, "aif-pyro")
    assert holds.startswith("Consistent") and "not a converged level" in holds
    lower = _compare_number(number, Estimate(0.80, 0.78, 0.82), exp, "aif-pyro")
    assert lower.startswith("Does not hold: lower")
    rule = _compare_number(number, Estimate(0.80, 0.78, 0.82), exp, "greedy")
    assert "converged" not in rule  # rules do not learn


def test_every_claim_gets_a_row_even_without_data(tmp_path):
    exp = load_experiment(make_experiment(tmp_path / "c", agents=("greedy",), episodes=1))
    rows = paper_vs_ours([exp])
    assert len(rows) >= len(PAPER_NUMBERS) + 8
    assert all(row[-1] for row in rows)  # every row has a verdict sentence
    assert sum("Cannot be checked" in row[-1] for row in rows) >= len(PAPER_NUMBERS)


def test_a_single_load_says_so_and_the_richest_sweep_is_held_against_the_paper(tmp_path):
    from aif_offload.report.paper import fig4_rows, fig5_rows

    load = load_experiment(
        make_experiment(
            tmp_path / "load", "load", agents=("aif-pyro", "ppo", "greedy"), episodes=1,
            sweep="load_percent", values=(200.0,),
        )
    )  # fmt: skip
    falls = [row for row in fig5_rows([load]) if "fall" in row[1]]
    assert len(falls) == 1 and falls[0][-1] == "Cannot be checked: one load only (200 %)."
    rules_everywhere = load_experiment(
        make_experiment(
            tmp_path / "a", "deadline", agents=("greedy",), episodes=1,
            sweep="t_max_s", values=(1.0, 2.0, 5.0, 10.0),
        )
    )  # fmt: skip
    learners_at_two = load_experiment(
        make_experiment(
            tmp_path / "b", "deadline", agents=("aif-pyro", "ppo", "greedy"), episodes=1,
            sweep="t_max_s", values=(5.0, 10.0),
        )
    )  # fmt: skip
    rows = fig4_rows([rules_everywhere, learners_at_two])
    assert rows[0][-1] == "Cannot be checked: no t_max ≤ 2 s in the sweep."  # from the learners'
    assert "aif-pyro" in rows[1][-2]


def test_the_claims_are_data_and_every_check_they_name_exists():
    from aif_offload.report.paper import CHECKS, CLAIMS, PAPER_BASELINES, claims_table

    table = claims_table()
    assert len(PAPER_NUMBERS) == len(table["numbers"]) and len(CLAIMS) == len(table["claims"])
    assert {c.check for c in CLAIMS.values()} <= set(CHECKS)
    assert {n.method for n in PAPER_NUMBERS} <= {"proposed", *PAPER_BASELINES}
    assert CLAIMS["cloud_cap"].params["threshold"] == 0.2


def test_another_scenario_is_not_held_against_the_paper(tmp_path):
    from aif_offload.report.build import paper_section
    from aif_offload.report.document import Table

    agents = ("aif-pyro", "ppo", "greedy")
    ours = load_experiment(make_experiment(tmp_path / "p", "training", agents=agents, episodes=2))
    other = load_experiment(
        make_experiment(
            tmp_path / "o", "training", agents=agents, episodes=2, scenario_name="azure-conv"
        )
    )
    assert paper_vs_ours([other]) == paper_vs_ours([])
    assert all(row[-1].startswith("Cannot be checked") for row in paper_vs_ours([other]))
    alone = paper_section([other])
    assert not any(isinstance(b, Table) for b in alone.blocks)
    assert "do not apply" in alone.blocks[0].text and "azure-conv" in alone.blocks[0].text
    both = paper_section([ours, other])
    assert any(isinstance(b, Table) for b in both.blocks)
    assert paper_vs_ours([ours, other]) == paper_vs_ours([ours])
