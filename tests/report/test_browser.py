"""The report renders in headless Chromium: every figure loads, nothing is broken, a screenshot."""

from __future__ import annotations

import pytest

from .browser_check import check_report, find_browser, main


@pytest.mark.skipif(
    find_browser() is None,
    reason="no chromium on PATH (Debian: apt-get install chromium); CI does not install it",
)
def test_report_renders_in_headless_chromium(compare_dir, tmp_path, capsys):
    shot = tmp_path / "report.png"
    result = check_report(compare_dir / "report.html", screenshot=shot)
    assert result.ok, result.problems
    figures = len(list((compare_dir / "report_files").iterdir()))
    assert result.images_total == figures and result.images_failed == 0
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.skipif(find_browser() is None, reason="no chromium on PATH")
def test_a_missing_figure_is_reported(compare_dir, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(compare_dir, broken, ignore=shutil.ignore_patterns("runs"))
    victim = sorted((broken / "report_files").iterdir())[0]
    victim.unlink()
    result = check_report(broken / "report.html")
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
