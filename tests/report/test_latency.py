"""The report's latency distribution: from task records when present, else from results.nc."""

from __future__ import annotations

import numpy as np
import pytest

from aif_offload.cli import main
from aif_offload.diagnostics.task_records import load_task_records
from aif_offload.report.build import build_sections
from aif_offload.report.document import Figure, Table
from aif_offload.report.sources import find_experiments
from aif_offload.report.style import FigureSink

ARGV = ["compare", "--agents", "greedy,random", "--seeds", "2", "--episodes", "1"]


def _comparison(directory, tmp_path):
    experiments, notes = find_experiments(directory)
    sections = build_sections(experiments, notes, FigureSink(tmp_path / "figures"))
    return sections[0]


def _latency_table(section) -> Table:
    (table,) = [b for b in section.blocks if isinstance(b, Table) and "p99 (s)" in b.header]
    return table


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("latency")
    for name, extra in (("records", ["--task-records"]), ("plain", [])):
        argv = [*ARGV, "--eval-episodes", "1", "--out", str(root / name), "--no-report", *extra]
        assert main(argv) == 0
    return root


def test_with_records_the_report_shows_their_percentiles_and_distribution(runs, tmp_path):
    section = _comparison(runs / "records", tmp_path)
    table = _latency_table(section)
    records = load_task_records(runs / "records")
    done = records[(records["phase"] == "eval") & records["completed"].astype(bool)]
    for row in table.rows:
        values = done.loc[done["agent"] == row[0], "latency_s"].to_numpy()
        assert int(row[2]) == values.size
        assert float(row[5]) == pytest.approx(np.percentile(values, 99), rel=1e-2)
    names = [b.filename for b in section.blocks if isinstance(b, Figure)]
    assert any("latency_ecdf" in n for n in names) and any("server_shares" in n for n in names)


def test_without_records_the_report_shows_the_results_percentiles(runs, tmp_path):
    section = _comparison(runs / "plain", tmp_path)
    table = _latency_table(section)
    assert [r[0] for r in table.rows] == ["greedy", "random"]
    assert all(cell != "n/a" for row in table.rows for cell in row[1:])
    names = [b.filename for b in section.blocks if isinstance(b, Figure)]
    assert any("latency_percentiles" in n for n in names)
