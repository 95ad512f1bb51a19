"""benchmarks/accelerator_check.py: the default device's rollout checked against the CPU's."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "accelerator_check.py"


def test_runs_and_agrees_on_this_machine():
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--scenarios",
            "paper",
            "--batches",
            "8",
            "--seconds",
            "0.05",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "| paper | 8 | yes |" in done.stdout


def test_a_disagreement_fails_the_check(monkeypatch, capsys):
    spec = importlib.util.spec_from_file_location("accelerator_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = []

    def fake_rollout(device, env, batch):
        calls.append(device)
        latency = np.full((batch, 3), 1.0 + 0.01 * len(calls))  # the second run differs
        return latency, np.ones((batch, 3), bool), None, None

    monkeypatch.setattr(module, "rollout_on", fake_rollout)
    monkeypatch.setattr(module, "throughput", lambda rollout, inputs, budget: 1.0)
    monkeypatch.setattr(
        sys, "argv", ["accelerator_check.py", "--scenarios", "paper", "--batches", "2"]
    )
    assert module.main() == 1
    assert "| paper | 2 | NO |" in capsys.readouterr().out
