"""The report as data: sections holding paragraphs, tables, figures and details, before any HTML.

Sections build these plain objects; ``html.py`` renders them. Keeping the two apart lets tests
inspect a report's content without parsing HTML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from aif_offload.diagnostics.statistics import Estimate


def fmt(value: float | None, digits: int = 3) -> str:
    """A number to ``digits`` significant digits (``n/a`` for None or NaN, no exponent for usual sizes)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if -4 <= magnitude < 6:
        decimals = max(0, digits - 1 - magnitude)
        return f"{round(value, decimals):.{decimals}f}"
    return f"{value:.{digits - 1}e}"


def fmt_estimate(estimate: Estimate) -> str:
    """``value [low, high]`` at 3 significant digits (``n/a`` when there is no finite value)."""
    if not math.isfinite(estimate.value):
        return "n/a"
    return f"{fmt(estimate.value)} [{fmt(estimate.low)}, {fmt(estimate.high)}]"


# Every report has these sections, in this order (anchor -> heading).
SECTION_TITLES = {
    "comparison": "1. Comparison of agents",
    "improvement": "2. Probability of improvement and performance profiles",
    "training": "3. Training curves (paper Fig. 3)",
    "deadline": "4. Deadline sweep (paper Fig. 4)",
    "load": "5. Load sweep (paper Fig. 5)",
    "adaptation": "6. Adaptation to a load step",
    "beliefs": "7. Beliefs against the true hidden state",
    "posterior": "8. Posterior checks of the Pyro model",
    "paper": "9. Paper vs ours",
    "provenance": "10. Provenance",
}


def n_seeds(n: int) -> str:
    """``n = 3 seeds`` (``n = 1 seed``): how many runs an interval or a figure rests on."""
    return f"n = {n} seed" if n == 1 else f"n = {n} seeds"


@dataclass(frozen=True)
class Paragraph:
    text: str  # plain text; `backticks` become code


@dataclass(frozen=True)
class Table:
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    css_class: str = ""


@dataclass(frozen=True)
class Figure:
    filename: str  # inside the figures directory
    caption: str
    alt: str


@dataclass(frozen=True)
class Details:
    summary: str
    text: str  # preformatted


@dataclass
class Section:
    anchor: str  # a key of SECTION_TITLES
    blocks: list = field(default_factory=list)

    @property
    def title(self) -> str:
        return SECTION_TITLES[self.anchor]

    def add(self, *blocks) -> None:
        self.blocks.extend(blocks)

    def heading(self, text: str) -> None:
        self.blocks.append(Subheading(text))

    def say(self, text: str) -> None:
        self.blocks.append(Paragraph(text))

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]


@dataclass(frozen=True)
class Subheading:
    text: str
