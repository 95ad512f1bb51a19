"""Atomic writes: a temporary file beside the target, then a rename.

Readers never see a half-written file, and a failed write leaves nothing behind (not even the
directories it had to create).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; it becomes ``path`` only if the block succeeds."""
    path = Path(path)
    created = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        for directory in created:  # innermost first
            if directory.exists() and not any(directory.iterdir()):
                directory.rmdir()
        raise


def write_atomic(data: Any, path: Path) -> None:
    """Write ``data`` (anything with ``to_netcdf``: xarray, ArviZ) as netCDF at ``path``."""
    with atomic_file(path) as tmp:
        data.to_netcdf(tmp, engine="h5netcdf")


def stamp(data: Any, attrs: dict[str, str]) -> Any:
    """Add provenance ``attrs`` to an xarray Dataset or to every group of an ArviZ InferenceData."""
    groups = [getattr(data, g) for g in data.groups()] if hasattr(data, "groups") else [data]
    for group in groups:
        group.attrs.update(attrs)
    return data
