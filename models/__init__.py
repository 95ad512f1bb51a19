"""Generative models written in Python (installed as ``aif_offload.models``)."""
