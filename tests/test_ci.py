""".ci/run: the README's test command verbatim, after installing Chromium, and nothing else."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_test_command() -> str:
    setup = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    lines = setup.splitlines()
    at = next(i for i, line in enumerate(lines) if "the test suite" in line)
    return lines[at + 1].strip()


def test_ci_runs_the_readme_test_command_after_installing_chromium():
    script = (ROOT / ".ci" / "run").read_text()
    commands = [
        line.strip() for line in script.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert commands[-1] == _readme_test_command()
    assert "pytest" in commands[-1]
    # The only additions: installing Debian's chromium, and requiring the browser test.
    installs = re.findall(r"apt-get install ([^;&|\n]*)", script)
    assert installs == ["-y --no-install-recommends chromium"]
    assert "export AIF_OFFLOAD_REQUIRE_BROWSER=1" in commands
    assert not [line for line in commands[:-1] if re.search(r"\b(pip|pytest|venv)\b", line)]


def test_ci_script_is_valid_bash():
    done = subprocess.run(["bash", "-n", str(ROOT / ".ci" / "run")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
