"""Analysis scripts: latency calibration, regime tables, belief diagnostics and comparisons (installed as ``aif_offload.analysis``)."""
