"""The one agent registry: identities on the classes, user agents by path, module and entry point,
in every executor, and the report's families and colours read from the classes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import xarray as xr

from aif_offload.agents import (
    AGENTS,
    FAMILIES,
    Agent,
    agent_class,
    agent_info,
    agent_names,
    register_agent,
    resolve_agents,
)
from aif_offload.agents.declared import BUILT_IN, Declared
from aif_offload.agents.rules import GreedyAgent
from aif_offload.cli import main

ROOT = Path(__file__).resolve().parents[2]
USER_FILE = "tests/agents/user_agents/my_agent.py"
IDENTITY = ("name", "summary", "family", "colour", "paper_method")


def test_names_list_the_rules_first_and_every_built_in():
    names = agent_names()
    assert names[:6] == ["random", "round-robin", "cloud-only", "edge-only", "greedy", "oracle"]
    assert {d.name for d in BUILT_IN} <= set(names)
    for name in names:
        info = agent_info(name)
        assert info.name == name and info.source == name and info.summary
        assert info.family in FAMILIES[:-1]  # every built-in has a known family, not 'other'


def test_heavy_agents_inherit_their_identity_from_the_declaration_and_restate_none():
    for declaration in BUILT_IN:
        implementation = agent_class(declaration.name)
        assert issubclass(implementation, declaration) and issubclass(implementation, Agent)
        # No class between the implementation and its declaration writes any identity field.
        for cls in implementation.__mro__[: implementation.__mro__.index(declaration)]:
            assert not set(IDENTITY) & set(vars(cls)), (cls, set(IDENTITY) & set(vars(cls)))
        for field in IDENTITY:
            assert getattr(implementation, field) == getattr(declaration, field)


def test_listing_agents_and_running_a_rule_import_neither_torch_nor_jax(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        from aif_offload.cli import main
        assert main(["agents"]) == 0
        assert main(["run", "--agent", "greedy", "--episodes", "1", "--out", {str(tmp_path)!r}]) == 0
        heavy = sorted(m for m in ("torch", "jax", "pyro", "stable_baselines3") if m in sys.modules)
        assert not heavy, heavy
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "report.html").exists()


def test_a_user_agent_from_a_file_runs_in_the_process_pool_and_reports_under_its_family(
    tmp_path, monkeypatch, capsys
):
    """The command a new user types: a file of their own, the default executor (a process pool of
    spawned workers that load the file by path themselves)."""
    monkeypatch.chdir(ROOT)
    out = tmp_path / "cmp"
    argv = ["compare", "--agents", f"{USER_FILE}:MyAgent,greedy", "--seeds", "2"]
    argv += ["--episodes", "1", "--eval-episodes", "1", "--out", str(out)]
    assert main([*argv, "--workers", "2"]) == 0  # the default pool, even on a one-core machine
    data = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    assert data.agent.values.tolist() == ["my-agent", "greedy"]
    assert float(data.completion_rate.sel(agent="my-agent").min()) > 0
    recorded = json.loads(data.attrs["agents_json"])["my-agent"]
    assert recorded["family"] == "heuristic" and recorded["colour"] == "#b15928"
    assert recorded["source"] == f"{ROOT / USER_FILE}:MyAgent"
    manifest = json.loads((out / "experiment.json").read_text())
    assert manifest["sources"] == [["my-agent", f"{ROOT / USER_FILE}:MyAgent"]]
    html = (out / "report.html").read_text()
    assert '<td class="text">my-agent</td><td class="text">heuristic</td>' in html
    assert '<td class="text">greedy</td><td class="text">rule</td>' in html


def test_the_report_reads_a_user_agent_from_its_results_when_the_file_is_gone(tmp_path):
    copy = tmp_path / "gone.py"
    copy.write_text((ROOT / USER_FILE).read_text().replace('"my-agent"', '"gone-agent"'))
    out = tmp_path / "run"
    argv = ["run", "--agent", f"{copy}:MyAgent", "--episodes", "1", "--out", str(out)]
    assert main(argv) == 0
    copy.unlink()
    script = textwrap.dedent(
        f"""
        from aif_offload.report.sources import load_experiment
        from aif_offload.report.families import agent_family
        from aif_offload.report.style import agent_color
        load_experiment({str(out)!r})
        print(agent_family("gone-agent"), agent_color("gone-agent"), agent_family("greedy"))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.stdout.split() == ["heuristic", "#b15928", "rule"], done.stderr[-2000:]


def test_module_class_specs_and_their_variants(tmp_path):
    spec = "tests.agents.user_agents.my_agent:MyAgent"
    info = agent_info(spec)
    assert (info.name, info.family, info.source) == ("my-agent", "heuristic", spec)
    variant = agent_class(f"{spec}@share=0.5")
    assert variant.name == "my-agent@share=0.5" and variant.share == 0.5
    assert agent_info(f"{spec}@share=0.5").colour is None  # variants get a pick of their own
    # A built-in named by its implementation's path is that built-in, known by name everywhere.
    assert agent_info("aif_offload.agents.rules:GreedyAgent").source == "greedy"
    out = tmp_path / "run"
    assert main(["run", "--agent", f"{spec}@share=0.5", "--episodes", "1", "--out", str(out)]) == 0
    data = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    assert data.agent.values.tolist() == ["my-agent@share=0.5"]


def test_a_module_that_registers_its_agent_is_still_named_by_module_for_workers():
    spec = "tests.agents.user_agents.registered:RegisteredAgent"
    try:
        info = agent_info(spec)  # imports the module, whose decorator registers the class here
        assert "registered-agent" in AGENTS
        # A fresh worker has not imported that module: it must get the module path, not the name.
        assert (info.name, info.source) == ("registered-agent", spec)
        assert agent_info("registered-agent").source == "registered-agent"  # in this process
    finally:
        AGENTS.pop("registered-agent", None)
        sys.modules.pop("tests.agents.user_agents.registered", None)


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A package with an ``aif_offload.agents`` entry point, installed the way pip lays one out
    (a package and its dist-info on sys.path); spawned workers inherit sys.path."""
    site = tmp_path / "site"
    (site / "demo_plugin").mkdir(parents=True)
    (site / "demo_plugin" / "__init__.py").write_text(
        (ROOT / USER_FILE)
        .read_text()
        .replace('"my-agent"', '"demo-plugin"')
        .replace('"heuristic"', '"plug-in"')
    )
    dist = site / "demo_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[aif_offload.agents]\ndemo-plugin = demo_plugin:MyAgent\n"
    )
    monkeypatch.syspath_prepend(str(site))
    yield site
    AGENTS.pop("demo-plugin", None)
    sys.modules.pop("demo_plugin", None)


def test_an_entry_point_agent_is_listed_and_runs_in_the_process_pool(
    installed_plugin, tmp_path, capsys
):
    assert "demo-plugin" in agent_names()
    assert main(["agents"]) == 0
    assert "demo-plugin    plug-in" in capsys.readouterr().out
    info = agent_info("demo-plugin")
    assert (info.family, info.source) == ("plug-in", "demo-plugin")
    out = tmp_path / "cmp"
    argv = ["compare", "--agents", "demo-plugin", "--seeds", "2", "--episodes", "1"]
    argv += ["--eval-episodes", "0", "--no-report", "--workers", "2", "--out", str(out)]
    assert main(argv) == 0
    data = xr.open_dataset(out / "results.nc", engine="h5netcdf")
    assert data.agent.values.tolist() == ["demo-plugin"]
    assert "sources" not in json.loads((out / "experiment.json").read_text())


def test_register_agent_checks_the_declaration(monkeypatch):
    monkeypatch.setattr("aif_offload.agents.registry.AGENTS", dict(AGENTS))

    class Nameless(GreedyAgent):
        name = "has space"

    with pytest.raises(ValueError, match="name"):
        register_agent(Nameless)

    class Impostor(GreedyAgent):
        summary = "another greedy"

    with pytest.raises(ValueError, match="'greedy' is already registered"):
        register_agent(Impostor)
    assert register_agent(GreedyAgent) is GreedyAgent  # the same class again is fine

    class Mine(GreedyAgent):
        name = "mine"
        summary = "a greedy of mine"

    register_agent(Mine)
    assert agent_info("mine").family == "rule" and agent_class("mine") is Mine

    class Light(Declared):
        name = "light"
        summary = "declared without an implementation"

    with pytest.raises(ValueError, match="implementation"):
        register_agent(Light)


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("nobody", "unknown agent 'nobody'"),
        ("no_such_module:Agent", "cannot import 'no_such_module'"),
        ("tests.agents.user_agents.my_agent:Missing", "has no class 'Missing'"),
        ("tests.agents.user_agents.my_agent:ClassVar", "not an Agent subclass"),
        ("missing/file.py:MyAgent", "no such file 'missing/file.py'"),
        (f"{USER_FILE}:MyAgent@share=x", "share must be a number"),
        (f"{USER_FILE}:MyAgent@lr=1", "key among: share"),
    ],
)
def test_bad_specs_are_one_line_errors(spec, needle, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(ValueError, match=needle) as error:
        resolve_agents([spec])
    assert "\n" not in str(error.value)


def test_a_user_class_may_not_take_a_registered_name(tmp_path):
    clash = tmp_path / "clash.py"
    clash.write_text((ROOT / USER_FILE).read_text().replace('"my-agent"', '"greedy"'))
    with pytest.raises(ValueError, match="name of the registered agent"):
        agent_info(f"{clash}:MyAgent")
    with pytest.raises(ValueError, match="names must be distinct"):
        resolve_agents([f"{USER_FILE}:MyAgent", "tests.agents.user_agents.my_agent:MyAgent"])


def test_a_broken_user_file_is_one_line(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import numpy\nraise RuntimeError('no\\nway')\n")
    with pytest.raises(ValueError, match=r"cannot load .*RuntimeError: no way") as error:
        agent_info(f"{broken}:Whatever")
    assert "\n" not in str(error.value)
    assert not [m for m in sys.modules if m.startswith("_aif_offload_agents_broken")]


def test_the_report_families_and_colours_come_from_the_classes():
    from aif_offload.report import families
    from aif_offload.report.style import agent_color

    assert families.PAPER_BASELINES == {
        "PPO": "ppo",
        "Rainbow DQN": "rainbow-dqn",
        "SAC": "sac",
        "GP-NFSP": "gp-nfsp",
    }
    for declaration in BUILT_IN:
        name = declaration.name
        assert families.agent_family(name) == declaration.family
        assert agent_color(name) == declaration.colour
        assert families.is_aif(name) == (declaration.family == "active inference")
    assert families.agent_family("ppo@lr=1e-4") == "deep RL" and families.learns("ppo@lr=1e-4")
    assert agent_color("ppo@lr=1e-4") != agent_color("ppo")
    assert families.agent_family("never-heard-of") == "other"
    assert agent_color("never-heard-of") == agent_color("never-heard-of")  # a stable pick
    assert agent_color("greedy") == GreedyAgent.colour
