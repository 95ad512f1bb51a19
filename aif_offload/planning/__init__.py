"""Policy selection for the continuous active-inference agents: CEM planner and expected free energy."""

from aif_offload.planning.cem import CemConfig, CemResult, cem_plan
from aif_offload.planning.efe import EfeTerms, Preferences, expected_free_energy

__all__ = ["CemConfig", "CemResult", "EfeTerms", "Preferences", "cem_plan", "expected_free_energy"]
