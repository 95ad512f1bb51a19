"""Pure NumPy simulator of a cloud-edge LLM serving system, batched over environments.

Nothing here imports Gymnasium, torch or JAX: the environment (``aif_offload.envs``) and the agents
sit on top of this package, never the other way round.
"""
