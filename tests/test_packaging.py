"""Packaging: every package directory is shipped, and data files travel with the wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    on_disk = {
        "aif_offload." + ".".join(p.parent.relative_to(ROOT / "aif_offload").parts)
        for p in (ROOT / "aif_offload").rglob("__init__.py")
        if p.parent != ROOT / "aif_offload"
    } | {"aif_offload", "aif_offload.models", "aif_offload.analysis"}
    assert on_disk <= listed, f"add to [tool.setuptools] packages: {sorted(on_disk - listed)}"
    assert config["package-dir"]["aif_offload.models"] == "models"
    assert config["package-dir"]["aif_offload.analysis"] == "analysis"


def test_data_and_scenarios_are_package_data():
    from importlib.resources import files

    names = {p.name for p in files("aif_offload.scenarios").iterdir()}
    assert {"paper.toml", "paper-full.toml", "azure-conv.toml", "azure-code.toml"} <= names
    data = {p.name for p in files("aif_offload.data").iterdir()}
    assert {"azure_llm_2023_conv.csv.gz", "azure_llm_2023_code.csv.gz", "NOTICE.md"} <= data


def test_the_papers_claims_table_is_package_data():
    from importlib.resources import files

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "*.toml" in config["package-data"]["aif_offload.report"]
    assert files("aif_offload.report").joinpath("paper_claims.toml").is_file()
