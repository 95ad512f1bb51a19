"""Atomic writes of netCDF results: a temporary file beside the target, then a rename."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(data: Any, path: Path) -> None:
    """Write ``data`` (anything with ``to_netcdf``: xarray, ArviZ) next to ``path``, then rename.

    Readers never see a half-written file, and a failed write leaves nothing behind.
    """
    path = Path(path)
    created = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        data.to_netcdf(tmp, engine="h5netcdf")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        for directory in created:  # innermost first; leave nothing behind that we made
            if directory.exists() and not any(directory.iterdir()):
                directory.rmdir()
        raise
