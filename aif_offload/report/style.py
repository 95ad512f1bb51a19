"""The look of every figure: Agg backend, one colour per agent, metric labels with units, saving.

Colours are the agents' own (``colour`` on the agent class: the same agent has the same colour in
every figure and every report), and saved PNGs carry no timestamp, so building a report twice
gives identical files.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.colors import is_color_like
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from aif_offload.report.document import Figure as FigureBlock
from aif_offload.report.families import agent_colour

_FALLBACK = plt.get_cmap("tab20").colors

METRIC_LABELS = {
    "completion_rate": "completion rate",
    "mean_latency_s": "mean latency (s)",
    "mean_accuracy": "pass@100",
    "utility": "utility, eq. 9 (1/s + pass@100)",
    "sum_reward": "sum reward, eq. 14",
}
SHORT_LABELS = {
    "completion_rate": "completion",
    "mean_latency_s": "latency (s)",
    "mean_accuracy": "pass@100",
    "utility": "utility",
    "sum_reward": "sum reward",
}
LOWER_IS_BETTER = frozenset({"mean_latency_s"})
SWEEP_LABELS = {"t_max_s": "deadline t_max (s)", "load_percent": "load (%)"}

plt.rcParams.update(
    {
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "font.size": 9,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.fontsize": 8,
        "legend.frameon": False,
    }
)


def agent_color(agent: str) -> str | tuple[float, float, float]:
    """The colour the agent's class declares, the same in every figure; for agents without one
    (or with one Matplotlib does not know) a stable pick from the name."""
    declared = agent_colour(agent)
    if declared is not None and is_color_like(declared):
        return declared
    return _FALLBACK[zlib.crc32(agent.encode()) % len(_FALLBACK)]


def new_figure(panels: int = 1, *, columns: int | None = None, panel_size=(4.2, 3.0)):
    """A figure with ``panels`` axes in a grid (at most ``columns`` per row); returns (fig, axes)."""
    columns = min(panels, columns or panels)
    rows = -(-panels // columns)
    fig = Figure(figsize=(panel_size[0] * columns, panel_size[1] * rows), layout="constrained")
    axes = [fig.add_subplot(rows, columns, i + 1) for i in range(panels)]
    return fig, axes


def episode_axis(ax, label: str = "episode") -> None:
    """Label the x axis with episodes, ticks on whole episodes only."""
    ax.set_xlabel(label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def legend_below(fig: Figure, axes) -> None:
    """One legend for the whole figure, from the labelled lines of all axes, below the panels."""
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    if seen:
        fig.legend(
            list(seen.values()),
            list(seen.keys()),
            loc="outside lower center",
            ncols=min(len(seen), 6),
        )


def save_png(fig: Figure, path: Path) -> None:
    """Save a figure as PNG without a timestamp (identical bytes for identical figures)."""
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


class FigureSink:
    """Saves the figures of one report into one directory under unique, stable names."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.names: list[str] = []

    def save(self, fig: Figure, name: str, caption: str, alt: str) -> FigureBlock:
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        filename, k = f"{stem}.png", 1
        while filename in self.names:
            k += 1
            filename = f"{stem}-{k}.png"
        save_png(fig, self.directory / filename)
        self.names.append(filename)
        return FigureBlock(filename, caption, alt)
