"""The report renders in headless Chromium: every figure loads, nothing is broken, a screenshot."""

from __future__ import annotations

import os

import pytest

from .browser_check import check_report, find_browser, main

REQUIRE = "AIF_OFFLOAD_REQUIRE_BROWSER"  # set by .ci/run, which installs Chromium


@pytest.fixture(scope="session")
def browser() -> str:
    """Chromium's path; without one the test skips, or fails where CI says one must be there."""
    found = find_browser()
    if found is None:
        message = "no chromium on PATH (Debian: apt-get install chromium)"
        if os.environ.get(REQUIRE, "") not in ("", "0"):
            pytest.fail(f"{message}, and {REQUIRE} is set")
        pytest.skip(message)
    return found


def test_report_renders_in_headless_chromium(browser, compare_dir, tmp_path, capsys):
    shot = tmp_path / "report.png"
    result = check_report(compare_dir / "report.html", screenshot=shot, browser=browser)
    assert result.ok, result.problems
    figures = len(list((compare_dir / "report_files").iterdir()))
    assert result.images_total == figures and result.images_failed == 0
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missing_figure_is_reported(browser, compare_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(compare_dir, broken, ignore=shutil.ignore_patterns("runs"))
    victim = sorted((broken / "report_files").iterdir())[0]
    victim.unlink()
    result = check_report(broken / "report.html", browser=browser)
    assert not result.ok
    assert any("missing figure file" in p for p in result.problems)
    assert result.images_failed == 1


def test_check_without_a_report_is_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "none.html")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_a_tall_page_is_shot_in_consecutive_parts():
    from .browser_check import MAX_HEIGHT, _shot_plan

    assert _shot_plan(MAX_HEIGHT - 100) == [(0, MAX_HEIGHT - 100)]
    plan = _shot_plan(2 * MAX_HEIGHT + 500)
    assert plan == [(0, MAX_HEIGHT), (MAX_HEIGHT, MAX_HEIGHT), (2 * MAX_HEIGHT, 500)]


def test_a_required_browser_that_is_missing_fails_instead_of_skipping(tmp_path):
    """What CI relies on: with the variable set and no Chromium on PATH, the test errors."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    node = f"{Path(__file__).relative_to(root)}::test_a_missing_figure_is_reported"
    env = os.environ | {"PATH": str(Path(sys.executable).parent), REQUIRE: "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout
    assert "1 error" in done.stdout and f"{REQUIRE} is set" in done.stdout
