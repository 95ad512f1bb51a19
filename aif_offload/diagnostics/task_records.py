"""Per-task records of an experiment directory as one pandas table.

The files are ``runs/<agent>/[<sweep>=<v>/]seed=<s>.tasks.nc`` (written with ``--task-records``;
columns in ``aif_offload.experiment.task_records``); a swept parameter's value becomes a column
named after the directory level (e.g. ``t_max_s``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import xarray as xr

TASKS_GLOB = "runs/**/*.tasks.nc"


def task_record_files(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob(TASKS_GLOB))


def read_task_records(path: Path) -> pd.DataFrame:
    """One ``*.tasks.nc`` file as a DataFrame (one row per task); a ``<sweep>=<v>`` directory
    level adds a column ``<sweep>`` holding ``v``."""
    path = Path(path)
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        table = ds.load().to_dataframe().reset_index(drop=True)
    for part in path.parent.parts:
        if "=" in part:
            key, value = part.split("=", 1)
            table[key] = float(value)
    return table


def load_task_records(directory: Path) -> pd.DataFrame | None:
    """Every task record under ``directory`` in one table; None if there are none."""
    files = task_record_files(directory)
    if not files:
        return None
    return pd.concat([read_task_records(f) for f in files], ignore_index=True)
