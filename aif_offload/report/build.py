"""``build_report(DIR)``: read the saved results of DIR, write ``DIR/report.html`` and its figures.

Everything is built in a temporary directory inside DIR first; only a complete report replaces
the previous one (figures directory renamed into place, then ``report.html`` atomically), so a
crash or a bad input never leaves a half report, and a failure leaves DIR as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from aif_offload import __version__
from aif_offload.experiment.results import git_commit
from aif_offload.report import paper
from aif_offload.report import sections_beliefs as sb
from aif_offload.report import sections_latency as sl
from aif_offload.report import sections_results as sr
from aif_offload.report.document import Paragraph, Section, Table
from aif_offload.report.html import render
from aif_offload.report.sources import Experiment, find_experiments
from aif_offload.report.style import FigureSink

REPORT_FILE = "report.html"
FIGURES_DIR = "report_files"


def paper_section(experiments: list[Experiment]) -> Section:
    section = Section("paper")
    elsewhere = [e for e in experiments if not paper.on_paper_scenario(e)]
    if elsewhere:
        names = "; ".join(
            f"{e.label}: scenario {e.scenario.get('name', 'unknown')}" for e in elsewhere
        )
        section.say(
            f"The paper's numbers describe its own system, the `{paper.SCENARIO}` scenario; they "
            f"do not apply to another scenario, so these experiments are not held against them: "
            f"{names}."
        )
    if len(elsewhere) == len(experiments):
        return section
    section.say(
        "Every number and finding the paper reports (He et al., IEEE TMC 2024; digested in "
        f"{paper.SOURCE}; the table of claims is `aif_offload/report/paper_claims.toml`) next to "
        f"what the experiments on the `{paper.SCENARIO}` scenario show. The paper's numbers are "
        "read off its figures and come without seeds or intervals, so a number counts as "
        "reproduced when our 95 % interval overlaps the paper's value ± the stated tolerance. "
        "'proposed' is matched with each active-inference agent here (the best one, by held-out "
        "sum reward, is marked); PPO with ppo, Rainbow DQN with rainbow-dqn, SAC with sac. Fig. 3 "
        "numbers are compared at the end of training (mean of the last 5 training episodes per "
        "seed), the level a training curve ends at, with the held-out evaluation value beside it."
    )
    section.add(
        Table(
            "The paper's reported results and ours (mean [95 % bootstrap interval over seeds]).",
            paper.HEADER,
            tuple(paper.paper_vs_ours(experiments)),
        )
    )
    return section


def _intro(directory: Path, experiments: list[Experiment], notes: list[str]) -> list:
    blocks = [
        Paragraph(
            f"Built by aif-offload {__version__} (commit {git_commit()}) from the saved results in "
            f"`{directory}`: results.nc, experiment.json and the run files of every experiment "
            "below; nothing was re-run. How to read each section: docs/report.md."
        )
    ]
    for exp in experiments:
        blocks.append(Paragraph(f"Experiment: {exp.setting()}."))
        if exp.seeds < sr.MIN_SEEDS_FOR_CLAIMS:
            blocks.append(
                Paragraph(
                    f"{exp.label}: {exp.seeds} seeds. A smoke-sized run: its intervals are wide "
                    f"and claims need at least {sr.MIN_SEEDS_FOR_CLAIMS} seeds."
                )
            )
    blocks.extend(Paragraph(n) for n in notes)
    return blocks


def build_sections(
    experiments: list[Experiment], notes: list[str], sink: FigureSink
) -> list[Section]:
    """The ten sections of a report, in order."""
    comparison = sr.comparison_section(experiments)
    sl.add_latency(comparison, experiments, sink)
    return [
        comparison,
        sr.improvement_section(experiments, sink),
        sr.training_section(experiments, sink),
        sr.deadline_section(experiments, sink),
        sr.load_section(experiments, sink),
        sr.adaptation_section(experiments, sink),
        sb.beliefs_section(experiments, sink),
        sb.posterior_section(experiments, sink),
        paper_section(experiments),
        sr.provenance_section(experiments, notes),
    ]


def _swap_into_place(built: Path, directory: Path) -> None:
    """Move a finished report from ``built`` into ``directory``, replacing the previous one."""
    figures, old = directory / FIGURES_DIR, None
    if figures.exists():
        old = directory / f".{FIGURES_DIR}.old-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        figures.rename(old)
    try:
        (built / FIGURES_DIR).rename(figures)
    except OSError:
        if old is not None:
            old.rename(figures)
        raise
    os.replace(built / REPORT_FILE, directory / REPORT_FILE)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_report(directory: Path) -> Path:
    """Write ``DIR/report.html`` (and ``DIR/report_files/``) from the saved results of DIR.

    DIR is one experiment directory (with results.nc) or a parent of experiment directories.
    Raises ValueError with a one-line message if DIR is missing, holds no readable results or
    cannot be written; nothing is written then.
    """
    directory = Path(directory)
    experiments, notes = find_experiments(directory)
    try:
        built = Path(tempfile.mkdtemp(prefix=".report.", suffix=".tmp", dir=directory))
    except OSError as err:
        raise ValueError(f"report: cannot write in '{directory}': {err.strerror or err}") from None
    try:
        sink = FigureSink(built / FIGURES_DIR)
        sections = build_sections(experiments, notes, sink)
        title = f"aif-offload report: {directory.resolve().name}"
        page = render(title, _intro(directory, experiments, notes), sections, FIGURES_DIR)
        (built / REPORT_FILE).write_text(page, encoding="utf-8")
        _swap_into_place(built, directory)
    except OSError as err:  # e.g. a full disk: one line, and the previous report stays
        raise ValueError(f"report: cannot write in '{directory}': {err.strerror or err}") from None
    finally:
        shutil.rmtree(built, ignore_errors=True)
    return directory / REPORT_FILE
