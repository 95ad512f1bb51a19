"""The ``model`` variant key of the active-inference engines: where a user's model is built.

``aif-pymdp@model=path/to/my_model.py:build`` (or ``package.module:build``) runs the discrete
engine on the model that ``build`` returns; ``aif-pyro@model=...`` the continuous one. A
:class:`ModelSource` is the text of that key, checked when the agent spec is resolved (the file
exists, the callable is there) and with a relative path made absolute, so that every worker (the
process pool, Ray) loads the same file whatever its working directory.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

ALLOWED = "path/to/file.py:callable or package.module:callable"
_SOURCE = re.compile(r"(?P<target>.+):(?P<attr>[A-Za-z_][\w.]*)")


def _is_path(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def absolute_source(text: str) -> str:
    """``rel/file.py:build`` -> ``/abs/rel/file.py:build`` (resolved against the working
    directory); module sources and anything else unchanged."""
    match = _SOURCE.fullmatch(text)
    if match is None or not _is_path(match["target"]):
        return text
    return f"{Path(match['target']).expanduser().resolve()}:{match['attr']}"


def short_source(text: str) -> str:
    """The source as an agent name shows it: ``file.py:build`` without the directory (a name
    becomes a folder of the results; a path there would nest folders)."""
    match = _SOURCE.fullmatch(text)
    if match is None or not _is_path(match["target"]):
        return text
    return f"{Path(match['target']).name}:{match['attr']}"


def load_callable(text: str) -> Callable:
    """The callable ``text`` names; ValueError (one line, prefixed ``model:``) if there is none."""
    from aif_offload.agents.registry import _load_file, _one_line

    match = _SOURCE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"model: '{text}' is not {ALLOWED}")
    target, attr = match["target"], match["attr"]
    if _is_path(target):
        try:
            holder, _ = _load_file(target)
        except ValueError as err:
            raise ValueError(f"model: {str(err).removeprefix('agent: ')} ({ALLOWED})") from None
    else:
        try:
            holder = import_module(target)
        except Exception as err:
            raise ValueError(
                f"model: cannot import '{target}' ({_one_line(err)}); give {ALLOWED}"
            ) from None
    found: object = holder
    for part in attr.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise ValueError(f"model: '{target}' has no '{attr}' ({ALLOWED})")
    if not callable(found):
        raise ValueError(f"model: '{target}:{attr}' is not callable ({ALLOWED})")
    return found


class ModelSource(str):
    """The text of a ``model`` key, checked and made absolute when it is created (the registry
    converts a variant's value by the type of the class attribute: ``ModelSource(text)``)."""

    def __new__(cls, text: str) -> ModelSource:
        text = absolute_source(str(text).strip())
        load_callable(text)
        return super().__new__(cls, text)

    def build(self, agent) -> object:
        """Call the builder with the agent being constructed; what it returns is checked by the
        engine."""
        return load_callable(self)(agent)
