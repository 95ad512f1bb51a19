"""Embedded scenario files and the loader: a name or a path in, a validated ``Scenario`` out.

A scenario file may start with ``extends = "NAME"``: it is then the named scenario with this file's
tables merged over it (tables merge key by key; arrays such as ``servers`` are replaced whole).
"""

from __future__ import annotations

import tomllib
from importlib.resources import files
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from aif_offload.sim.scenario import Scenario, deadline_and_load, set_path

DEFAULT_SCENARIO = "paper"


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message is one line naming the file and the field."""


def available() -> list[str]:
    """Names of the embedded scenarios."""
    return sorted(
        p.name[: -len(".toml")] for p in files(__name__).iterdir() if p.name.endswith(".toml")
    )


def _source(name_or_path: str) -> tuple[str, str]:
    """(label, TOML text) of an embedded name or a file path."""
    if name_or_path in available():
        return name_or_path, files(__name__).joinpath(f"{name_or_path}.toml").read_text()
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        try:
            return str(path), path.read_text()
        except OSError as err:
            raise ScenarioError(f"scenario: cannot read '{path}': {err.strerror}") from None
    raise ScenarioError(
        f"scenario: unknown scenario '{name_or_path}', allowed: {', '.join(available())} or a .toml path"
    )


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def raw_table(name_or_path: str, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """The scenario as a plain dict with ``extends`` resolved, before validation."""
    label, text = _source(name_or_path)
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"scenario '{label}': malformed TOML: {err}") from None
    base = table.pop("extends", None)
    if base is None:
        return table
    if not isinstance(base, str):
        raise ScenarioError(f"scenario '{label}': extends: must be a scenario name or path")
    if base in _seen:
        raise ScenarioError(f"scenario '{label}': extends: cycle through '{base}'")
    return _merge(raw_table(base, (*_seen, label)), table)


def _one_line(text: str) -> str:
    """User-supplied names may hold newlines; escape them so an error stays on one line."""
    return text.encode("unicode_escape").decode("ascii")


def _describe(err: ValidationError, table: Any = None) -> str:
    """One line per error, at the field's dotted path; entries of a list that have a name are
    named by it (``servers[edge-2].num_gpus``), others by their index (``servers[2]``)."""
    parts = []
    for e in err.errors():
        where, node = "", table
        for key in e["loc"]:
            if isinstance(key, int):
                item = node[key] if isinstance(node, list | tuple) and key < len(node) else None
                name = item.get("name") if isinstance(item, dict) else None
                where += f"[{name}]" if isinstance(name, str) and name else f"[{key}]"
                node = item
            else:
                where += f".{key}" if where else str(key)
                node = node.get(key) if isinstance(node, dict) else None
        where = where or "(top level)"
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            message = "unknown field"
        parts.append(_one_line(f"{where}: {message}"))
    return "; ".join(parts)


def validate(table: dict[str, Any], label: str = "scenario") -> Scenario:
    """Validate a scenario dict, raising ScenarioError with a one-line message."""
    try:
        return Scenario.model_validate(table)
    except ValidationError as err:
        raise ScenarioError(f"scenario '{label}': {_describe(err, table)}") from None


def load_scenario(
    name_or_path: str = DEFAULT_SCENARIO,
    *,
    t_max_s: float | None = None,
    load_percent: float | None = None,
) -> Scenario:
    """Load, resolve and validate a scenario, optionally overriding the deadline and the load."""
    table = raw_table(name_or_path)
    for path, value in deadline_and_load(t_max_s, load_percent).items():
        set_path(table, path, value)
    return validate(table, name_or_path)


def scenario_toml(name_or_path: str) -> str:
    """Text to show a user: the file itself, or the resolved TOML if it extends another."""
    label, text = _source(name_or_path)
    if "extends" not in tomllib.loads(text):
        return text
    resolved = load_scenario(name_or_path).model_dump(mode="json", exclude_none=True)
    return f"# '{label}' resolved (it extends another scenario)\n" + tomli_w.dumps(resolved)


def scenario_json(scenario: Scenario) -> str:
    """The resolved scenario as JSON, for provenance attributes."""
    return scenario.model_dump_json()
