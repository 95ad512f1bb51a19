"""`aif-offload report`: one-line errors that write nothing; compare/experiment end with a report."""

from __future__ import annotations

import pytest

from aif_offload.cli import main


def _one_line_error(capsys, argv, needle):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert err.startswith("aif-offload: error: report:") and needle in err, err


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "not-results", "bad-spec"])
def test_bad_directories_are_one_line_exit_2_and_nothing_is_written(tmp_path, capsys, case):
    import xarray as xr

    directory = tmp_path / "results"
    if case != "missing":
        directory.mkdir()
    needle = {
        "missing": "no such directory",
        "empty": "no results.nc",
        "corrupt": "cannot read",
        "not-results": "not an aif-offload results file",
        "bad-spec": "experiment spec",
    }[case]
    if case == "corrupt":
        (directory / "results.nc").write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    elif case == "not-results":
        xr.Dataset({"x": ("a", [1.0])}).to_netcdf(directory / "results.nc", engine="h5netcdf")
    elif case == "bad-spec":
        from .synthetic import make_experiment

        make_experiment(directory, agents=("greedy",), episodes=1, eval_episodes=0)
        (directory / "experiment.json").write_text('{"name": "compare"')
    before = sorted(p.name for p in tmp_path.rglob("*"))
    _one_line_error(capsys, ["report", str(directory)], needle)
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_report_command_writes_the_report(tmp_path, capsys):
    from .synthetic import make_experiment

    directory = make_experiment(tmp_path / "cmp", agents=("greedy",), episodes=1)
    assert main(["report", str(directory)]) == 0
    assert "report.html" in capsys.readouterr().err
    assert (directory / "report.html").is_file()


def test_a_parent_directory_reports_the_good_experiments_and_notes_a_corrupt_one(tmp_path, capsys):
    from .synthetic import make_experiment

    make_experiment(tmp_path / "good", agents=("greedy",), episodes=1)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.nc").write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    assert main(["report", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "broken/ left out: report: cannot read" in page
    assert "greedy" in page


def test_compare_ends_with_a_report_and_a_failed_report_keeps_the_results(
    tmp_path, capsys, monkeypatch
):
    import aif_offload.report as report

    argv = ["compare", "--agents", "random", "--seeds", "1", "--episodes", "1",
            "--eval-episodes", "0", "--workers", "1"]  # fmt: skip
    assert main([*argv, "--out", str(tmp_path / "ok")]) == 0
    assert (tmp_path / "ok" / "report.html").is_file()
    capsys.readouterr()

    def broken(directory):
        raise RuntimeError("disk full\nsecond line")

    monkeypatch.setattr(report, "build_report", broken)
    assert main([*argv, "--out", str(tmp_path / "broken")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("aif-offload: error: report: could not build"), err
    assert "report.html" in err[-1] and "disk full second line" in err[-1]
    assert (tmp_path / "broken" / "results.nc").is_file()
    assert not (tmp_path / "broken" / "report.html").exists()


def test_an_unwritable_directory_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    from aif_offload.report import build

    from .synthetic import make_experiment

    directory = make_experiment(tmp_path / "cmp", agents=("greedy",), episodes=1)

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(build.tempfile, "mkdtemp", denied)
    _one_line_error(capsys, ["report", str(directory)], "cannot write")
    assert not (directory / "report.html").exists()
