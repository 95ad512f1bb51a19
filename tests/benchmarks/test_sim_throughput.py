"""benchmarks/sim_throughput.py: its table by default, its rows as one JSON object with --json."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sim_throughput.py"
KEYS = [
    "gym_make_steps_per_s",
    "env_direct_steps_per_s",
    "vector_env_16_env_steps_per_s",
    "vector_env_256_env_steps_per_s",
    "vector_env_1024_env_steps_per_s",
    "batched_simulator_1_task_steps_per_s",
    "batched_simulator_1024_task_steps_per_s",
    "batched_simulator_4096_task_steps_per_s",
    "oracle_evaluate_all_us_per_call",
]


def _module():
    spec = importlib.util.spec_from_file_location("sim_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_json_is_one_object_with_a_key_per_row():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", "--seconds", "0.01"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    measured = json.loads(done.stdout)  # the whole of stdout, nothing else printed
    assert list(measured) == KEYS
    assert all(math.isfinite(v) and v > 0 for v in measured.values())


def test_table_by_default_and_the_same_rows_as_json(monkeypatch, capsys):
    module = _module()
    rows = [(key, f"label {i}", 1000.0 * (i + 1)) for i, key in enumerate(KEYS)]
    monkeypatch.setattr(module, "measure", lambda scenario, t: rows)
    monkeypatch.setattr(sys, "argv", ["sim_throughput.py", "--seconds", "1"])
    module.main()
    table = capsys.readouterr().out
    assert "| measurement | value |" in table
    for i in range(len(KEYS)):
        assert f"| label {i} | {1000 * (i + 1):,} |" in table
    monkeypatch.setattr(sys, "argv", ["sim_throughput.py", "--json"])
    module.main()
    assert json.loads(capsys.readouterr().out) == {key: value for key, _, value in rows}


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [(["--seconds", "0"], "--seconds"), (["--scenario", "nope"], "scenario")],
)
def test_bad_options_exit_2_with_one_line(argv, fragment):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", *argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and fragment in done.stderr
