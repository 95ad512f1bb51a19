"""The one registry of agents, and the agent specs that name an agent in any process.

An agent spec is one of

- a registered name (``greedy``; the built-ins, and classes passed to ``register_agent``);
- the name of an entry point in the group ``aif_offload.agents`` of an installed package;
- ``package.module:Class``, imported by module path;
- ``path/to/file.py:Class``, loaded from the file;
- any of these followed by ``@key=value[+key=value]``: a variant with some hyperparameters changed
  (``ppo@lr=1e-4``); the agent lists the keys it accepts in ``hyperparameters``. The
  active-inference engines take ``model=path/to/file.py:build`` (or ``module:build``): a user's
  model (``aif_offload.agents.model_source``); a relative path is made absolute in the spec that
  workers get.

A spec is resolved afresh in each process that needs it (pool and Ray workers get the spec
string, never a class), so nothing depends on state set up in the parent. An agent's identity
(name, summary, family, colour, paper method) is read from its class; agents whose modules import
torch or JAX are registered by a light declaration their class inherits from (``declared.py``),
so that reading an identity never imports them.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import zlib
from dataclasses import dataclass
from importlib import import_module, metadata
from pathlib import Path
from typing import TypeVar

from aif_offload.agents.base import Agent
from aif_offload.agents.declared import Declared
from aif_offload.agents.model_source import absolute_source, short_source

ENTRY_POINT_GROUP = "aif_offload.agents"
_T = TypeVar("_T", bound=type)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")

# name -> the agent's class, or its declaration for agents whose module is heavy.
AGENTS: dict[str, type] = {}
# Names registered on importing aif_offload.agents, hence known in every process.
_BUILT_IN: set[str] = set()


@dataclass(frozen=True)
class AgentInfo:
    """An agent's identity as its class declares it, and the spec that rebuilds it anywhere."""

    name: str
    summary: str
    family: str
    colour: str | None
    paper_method: str | None
    # What a worker resolves: the name for registered and entry-point agents, else
    # ``module:Class`` or ``/absolute/path.py:Class`` (with any ``@variant``).
    source: str

    def record(self) -> dict[str, str | None]:
        """The identity as saved with results (``agents_json``)."""
        return {
            "summary": self.summary,
            "family": self.family,
            "colour": self.colour,
            "paper_method": self.paper_method,
            "source": self.source,
        }


def _check_declaration(cls: object, where: str) -> type:
    if not isinstance(cls, type) or not issubclass(cls, Agent | Declared):
        raise ValueError(f"agent: {where} is not an Agent subclass")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"agent: {where} needs a class attribute name: letters, digits, '.', '_', '-', got "
            f"{name!r}"
        )
    for attribute in ("summary", "family"):
        if not isinstance(getattr(cls, attribute, None), str):
            raise ValueError(f"agent: {where} needs a class attribute {attribute} (a string)")
    if not isinstance(cls.colour, str | None):
        raise ValueError(f"agent: {where}: colour must be a Matplotlib colour string or None")
    declaration_only = issubclass(cls, Declared) and not issubclass(cls, Agent)
    if declaration_only and ":" not in getattr(cls, "implementation", ""):
        raise ValueError(f"agent: {where} needs implementation = 'module:Class'")
    return cls


def register_agent(cls: _T) -> _T:
    """Register an agent class (or a ``Declared`` identity) under its ``name``; a decorator.

    Registering works in the process that runs it: for agents run by the experiment executors,
    which resolve agents in their own processes, pass ``module:Class`` or ``path.py:Class`` on the
    command line, or publish an entry point in the group ``aif_offload.agents``.
    """
    _check_declaration(cls, f"class {cls.__module__}.{cls.__qualname__}")
    held = AGENTS.get(cls.name)
    if held is not None and held is not cls:
        raise ValueError(
            f"agent: '{cls.name}' is already registered ({held.__module__}.{held.__qualname__})"
        )
    AGENTS[cls.name] = cls
    return cls


def register_built_in(*classes: type) -> None:
    """Register the package's own agents (known by name in every process that imports it)."""
    for cls in classes:
        register_agent(cls)
        _BUILT_IN.add(cls.name)


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def agent_names() -> list[str]:
    """Every registered agent name, then the installed packages' entry points (not loaded)."""
    return [*AGENTS, *sorted(n for n in _entry_points() if n not in AGENTS)]


_SETTINGS = re.compile(r"[A-Za-z_]\w*=")
_BY_PATH = re.compile(r".+:[A-Za-z_][\w.]*")


def _split_variant(spec: str) -> tuple[str, str]:
    """``base@settings`` -> (base, settings), at the first '@' after a whole base (a name,
    ``module:Class`` or ``path.py:Class``; a path may hold '@') that starts ``key=...``; the values
    may hold ':' and '@' (``aif-pymdp@model=my_model.py:build``)."""
    at = spec.find("@")
    while at >= 0:
        base, settings = spec[:at], spec[at + 1 :]
        whole = _BY_PATH.fullmatch(base) if ":" in base else _NAME.fullmatch(base)
        if whole and _SETTINGS.match(settings):
            return base, settings
        at = spec.find("@", at + 1)
    return spec, ""


def _map_values(settings: str, change) -> str:
    """The settings with ``change`` applied to every value (keys and order kept)."""
    out = []
    for setting in settings.split("+"):
        key, sep, value = setting.partition("=")
        out.append(f"{key}{sep}{change(value)}" if sep else setting)
    return "+".join(out)


def _unknown(spec: str) -> ValueError:
    return ValueError(
        f"agent: unknown agent '{spec}', allowed: {', '.join(agent_names())}, "
        "or module:Class or path/to/file.py:Class"
    )


def _load_file(path_text: str) -> tuple[object, Path]:
    path = Path(path_text).expanduser().resolve()
    if not path.is_file():
        raise ValueError(f"agent: no such file '{path_text}'")
    module_name = f"_aif_offload_agents_{path.stem}_{zlib.crc32(str(path).encode()):08x}"
    if module_name in sys.modules:
        return sys.modules[module_name], path
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"agent: cannot load '{path_text}' as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look classes up there
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        del sys.modules[module_name]
        raise ValueError(f"agent: cannot load '{path_text}': {_one_line(err)}") from None
    return module, path


def _one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def _by_path(spec: str) -> tuple[type, str]:
    """The class named by ``module:Class`` or ``file.py:Class``, and its source spec."""
    target, _, qualname = spec.rpartition(":")
    if not target or not qualname:
        raise _unknown(spec)
    if target.endswith(".py") or "/" in target or "\\" in target:
        holder, path = _load_file(target)
        source = f"{path}:{qualname}"
    else:
        try:
            holder = import_module(target)
        except Exception as err:
            raise ValueError(f"agent: cannot import '{target}' ({_one_line(err)})") from None
        source = spec
    cls: object = holder
    for part in qualname.split("."):
        cls = getattr(cls, part, None)
        if cls is None:
            raise ValueError(f"agent: '{target}' has no class '{qualname}'")
    cls = _check_declaration(cls, f"'{spec}'")
    held = AGENTS.get(cls.name) or _entry_point_class(cls.name)
    if held is not None:
        if not issubclass(cls, held):
            raise ValueError(
                f"agent: '{spec}' is named '{cls.name}', the name of the registered agent "
                f"{held.__module__}.{held.__qualname__}; give it another name"
            )
        if cls.name in _BUILT_IN or cls.name in _entry_points():
            source = cls.name  # known by name in every worker
    return cls, source


def _entry_point_class(name: str) -> type | None:
    ep = _entry_points().get(name)
    if ep is None:
        return None
    try:
        cls = ep.load()
    except Exception as err:
        raise ValueError(
            f"agent: entry point '{name}' ({ep.value}) cannot be loaded: {_one_line(err)}"
        ) from None
    cls = _check_declaration(cls, f"entry point '{name}' ({ep.value})")
    if cls.name != name:
        raise ValueError(f"agent: entry point '{name}' ({ep.value}) names an agent '{cls.name}'")
    return cls


def _identity(spec: str) -> tuple[type, str]:
    """The class or declaration behind a spec without its variant, and the spec that rebuilds it
    anywhere; imports no heavy implementation module."""
    if ":" in spec:
        return _by_path(spec)
    cls = AGENTS.get(spec) or _entry_point_class(spec)
    if cls is None:
        raise _unknown(spec)
    return cls, spec


def agent_info(spec: str) -> AgentInfo:
    """The identity of the agent ``spec`` names, read from its class or declaration.

    Importing a heavy implementation is left to ``agent_class``: a variant's settings are checked
    there, not here.
    """
    base, settings = _split_variant(spec.strip())
    cls, source = _identity(base)
    name = cls.name if ":" in source else source  # a registered agent: the name it is known by
    if not settings:
        return AgentInfo(name, cls.summary, cls.family, cls.colour, cls.paper_method, source)
    # A model file given by a relative path: workers load it by its absolute path; the name
    # shows the file name only (a name is also a folder of the results).
    shown = _map_values(settings, short_source)
    return AgentInfo(
        f"{name}@{shown}",
        _variant_summary(cls.summary, shown),
        cls.family,
        None,  # variants of one agent must be told apart in a figure: a stable pick each
        cls.paper_method,
        f"{source}@{_map_values(settings, absolute_source)}",
    )


def batches_seeds(spec: str) -> bool:
    """Whether the agent ``spec`` names may run several seeds as one batch
    (``Agent.batches_seeds``), read from its class or declaration without importing it. A variant
    with a user's ``model=`` does not: nothing says the user's model keeps its rows apart."""
    base, settings = _split_variant(spec.strip())
    if any(s.partition("=")[0] == "model" for s in settings.split("+") if s):
        return False
    cls, _ = _identity(base)
    # Not inherited: a subclass may keep state across rows, so it says so itself.
    return bool(vars(cls).get("batches_seeds", False))


def agent_class(spec: str) -> type[Agent]:
    """The agent class ``spec`` names (its module imported on first use)."""
    spec = spec.strip()
    base, settings = _split_variant(spec)
    if settings:
        if spec not in _VARIANTS:  # kept apart so listings show registered agents only
            _VARIANTS[spec] = _variant(agent_class(base), settings, spec)
        return _VARIANTS[spec]
    cls, _ = _identity(base)
    if issubclass(cls, Agent):
        return cls
    module, _, name = cls.implementation.partition(":")
    implementation = getattr(import_module(module), name)
    if not (isinstance(implementation, type) and issubclass(implementation, cls | Agent)):
        raise TypeError(f"{cls.implementation} must subclass {cls.__qualname__} and Agent")
    return implementation


_VARIANTS: dict[str, type[Agent]] = {}


def _variant_summary(summary: str, settings: str) -> str:
    return f"{summary} Variant: {settings.replace('+', ', ')}."


def _variant(base: type[Agent], settings: str, spec: str) -> type[Agent]:
    allowed = base.hyperparameters
    changes = {}
    for setting in settings.split("+"):
        key, sep, text = setting.partition("=")
        if not sep or key not in allowed:
            keys = ", ".join(allowed) or "none"
            raise ValueError(
                f"agent: '{spec}': '{setting}' is not key=value with a key among: {keys}"
            )
        kind = type(getattr(base, allowed[key]))
        try:
            changes[allowed[key]] = kind(text)
        except ValueError as err:
            if kind in (int, float):
                raise ValueError(f"agent: '{spec}': {key} must be a number, got '{text}'") from None
            raise ValueError(
                f"agent: '{spec}': {key}: {str(err).removeprefix(f'{key}: ')}"
            ) from None
    return type(
        base.__name__ + "Variant",
        (base,),
        {
            "name": f"{base.name}@{settings}",
            "summary": _variant_summary(base.summary, settings),
            "colour": None,
            **changes,
        },
    )


def resolve_agents(specs: list[str] | tuple[str, ...]) -> list[AgentInfo]:
    """Check agent specs as the command line gives them: each resolves (variants are built, so
    their settings are checked) and their names are distinct."""
    infos = []
    for spec in specs:
        info = agent_info(spec)
        if "@" in info.name:
            agent_class(spec)
        infos.append(info)
    names = [i.name for i in infos]
    if len(set(names)) != len(names):
        raise ValueError(f"agent: names must be distinct, got {', '.join(names)}")
    return infos
