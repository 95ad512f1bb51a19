"""aif-offload: LLM inference offloading in cloud-edge computing by active inference.

Importing the package registers the Gymnasium environment ``aif_offload/CloudEdgeLLM-v0``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aif-offload")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+unknown"

from aif_offload.envs import register_envs as _register_envs

_register_envs()

__all__ = ["__version__"]
