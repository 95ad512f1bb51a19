"""The Markdown headline table reads runs straight from an experiment directory."""

from __future__ import annotations

import pytest
import xarray as xr
from aif_offload.analysis.results_table import table

from aif_offload.cli import main


def test_table_lists_each_agent_with_its_seed_count_and_intervals(tmp_path):
    out = tmp_path / "cmp"
    argv = ["compare", "--agents", "random,oracle", "--seeds", "2", "--episodes", "2"]
    assert main([*argv, "--eval-episodes", "1", "--out", str(out), "--no-report"]) == 0
    rows = table(out).splitlines()
    assert rows[0].startswith("| agent | seeds | held-out completion")
    oracle = next(r for r in rows if r.startswith("| `oracle`"))
    cells = [c.strip() for c in oracle.strip("|").split("|")]
    assert cells[1] == "2"
    point = float(cells[2].split()[0])  # oracle completion: a rate with its interval
    assert 0.0 <= point <= 1.0 and "[" in cells[2]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    first = header.index("completion, first 5 training episodes")
    with xr.open_dataset(out / "results.nc") as data:
        curves = data.completion_rate.sel(agent="oracle").values  # (seed, episode): 2 episodes
    assert float(cells[first].split()[0]) == pytest.approx(curves.mean(), abs=5e-4)


def test_a_sweep_gets_a_row_per_agent_and_value(tmp_path):
    out = tmp_path / "fig4"
    argv = ["experiment", "deadline", "--agents", "oracle", "--values", "5,12", "--seeds", "2"]
    assert main([*argv, "--episodes", "1", "--eval-episodes", "1", "--out", str(out),
                 "--no-report"]) == 0  # fmt: skip
    rows = table(out).splitlines()
    assert rows[0].startswith("| agent | t_max_s | seeds | held-out completion")
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows[2:]]
    assert [(c[0], c[1], c[2]) for c in cells] == [("`oracle`", "5", "2"), ("`oracle`", "12", "2")]
    # only the cloud meets 5 s (about a fifth of the tasks); most tasks complete at 12 s
    assert float(cells[0][3].split()[0]) < 0.3 < float(cells[1][3].split()[0])
