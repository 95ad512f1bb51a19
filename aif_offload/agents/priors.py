"""The ``prior`` variant key of the active-inference agents: ``nominal`` or ``vague``.

``nominal`` (the default): the agent's priors come from the nominal view, as an operator's spec
sheets state them. ``vague``: the same model structure with wide priors, so that what the nominal
view says (the servers' speeds, the dynamics, the outcome likelihoods) has to be learned from
experience. What each agent widens is written in its docstring and in docs/models.md.
"""

from __future__ import annotations

PRIORS = ("nominal", "vague")


class Prior(str):
    """The text of a ``prior`` key, checked when it is created (the registry converts a variant's
    value by the type of the class attribute: ``Prior(text)``)."""

    def __new__(cls, text: str) -> Prior:
        text = str(text).strip()
        if text not in PRIORS:
            raise ValueError(f"prior: unknown prior '{text}', allowed: {', '.join(PRIORS)}")
        return super().__new__(cls, text)

    @property
    def vague(self) -> bool:
        return self == "vague"
