"""HTML report of saved results: figures, tables and the paper-vs-ours comparison.

``build_report(DIR)`` reads only ``results.nc``, ``experiment.json`` and the run files (beliefs,
NUTS) under DIR and writes ``DIR/report.html`` with its figures in ``DIR/report_files/``.
"""

from aif_offload.report.build import build_report

__all__ = ["build_report"]
