"""Named discrete generative models for pymdp: declare by name, fill by level name, build, export.

>>> spec = ModelSpec("coin", factors=[Factor("side", ("heads", "tails"), controls=("flip",))],
...                  modalities=[Modality("seen", ("heads", "tails"), depends_on=("side",))],
...                  controls=[Control("flip", ("keep", "flip"))])
"""

from aif_offload.pomdp.build import AgentConfig, PymdpArrays, build, make_agent, to_xarray
from aif_offload.pomdp.spec import Control, Factor, Modality, ModelSpec

__all__ = [
    "AgentConfig",
    "Control",
    "Factor",
    "Modality",
    "ModelSpec",
    "PymdpArrays",
    "build",
    "make_agent",
    "to_xarray",
]
