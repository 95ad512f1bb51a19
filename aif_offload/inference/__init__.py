"""Inference for the continuous latent load model: closed-form filtering, SVI refits, offline NUTS.

``filtering`` updates the belief about the latent load every step in closed form (a Kalman filter,
microseconds per step, off the SVI path); ``svi`` refits the parameter posterior once per episode on
stored experience and draws posterior samples for the epistemic term; ``nuts`` fits a logged
trajectory offline for diagnostics (R-hat, ESS).
"""

from aif_offload.inference.filtering import LoadFilter
from aif_offload.inference.svi import SviFit, SviRefitter, fit_svi

__all__ = ["LoadFilter", "SviFit", "SviRefitter", "fit_svi"]
