"""Figures of the Pyro model's posterior: predictive checks, NUTS traces and rank plots (ArviZ).

ArviZ draws into axes we create (Agg figures, no pyplot state), so figures are saved and freed like
every other figure of the report.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
from matplotlib.figure import Figure

from aif_offload.report.style import new_figure


@contextmanager
def _quiet():
    """ArviZ 0.x calls a matplotlib API deprecated in 3.11; the warning is not ours to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*alias_mapping.*")
        yield


PPC_LABELS = {
    "log_compute": "log compute time of completed tasks (log s)",
    "report": "reported load (used fraction)",
}


def posterior_predictive_density(pooled: dict[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Observed data against replicated data, one panel per observed variable (``az.plot_ppc``).

    ``pooled`` maps a variable to (observed (n,), replicated (draws, n)) over the recorded steps.
    """
    import arviz as az

    fig, axes = new_figure(len(pooled), columns=2, panel_size=(4.6, 3.2))
    for ax, (name, (observed, replicated)) in zip(axes, pooled.items(), strict=True):
        data = az.from_dict(
            posterior_predictive={name: replicated[None]},
            observed_data={name: observed},
        )
        with _quiet():
            az.plot_ppc(
                data,
                var_names=[name],
                num_pp_samples=min(50, replicated.shape[0]),
                random_seed=0,
                ax=ax,
                legend=True,
            )
        ax.set_xlabel(PPC_LABELS.get(name, name))
        ax.set_ylabel("density")
    return fig


def nuts_trace(data, var_names: list[str]) -> Figure:
    """Trace plot (density and draws per chain) of the NUTS posterior of ``var_names``."""
    import arviz as az

    fig, axes = new_figure(2 * len(var_names), columns=2, panel_size=(4.4, 2.2))
    grid = np.asarray(axes, dtype=object).reshape(len(var_names), 2)
    with _quiet():
        az.plot_trace(data, var_names=var_names, axes=grid, compact=True)
    return fig


def nuts_rank(data, var_names: list[str]) -> Figure:
    """Rank plots of the NUTS draws per chain (uniform bars when chains mix)."""
    import arviz as az

    panels = sum(
        int(data.posterior[v].isel(chain=0, draw=0).size) for v in var_names
    )  # one panel per scalar component
    fig, axes = new_figure(panels, columns=min(panels, 3), panel_size=(3.8, 2.6))
    with _quiet():
        az.plot_rank(data, var_names=var_names, ax=np.asarray(axes, dtype=object))
    return fig
