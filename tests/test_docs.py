"""Every code block of README.md and docs/*.md runs, in document order, one scratch directory per file.

``docs/research/`` is not included: notes of what was tried with the libraries, whose snippets
train for minutes and import files saved by hand.

The convention (``docs/architecture.md``, "Code blocks in the docs are tested"):

- ```` ```python ```` blocks of one file share a namespace and run in order, interleaved with its
  ```` ```bash ```` blocks; ```` ```toml ```` blocks must parse. ```` ```python file=NAME.py ````
  is also written to ``NAME.py`` in the scratch directory before it runs (a model file the
  commands after it load, as a reader would save it). Blocks without a language are
  text (diagrams, formulas); one that holds a command is an error, tag it ``bash``.
- In ``bash`` blocks, ``aif-offload ...`` runs in-process through ``aif_offload.cli.main``, and
  ``python -m MODULE ...`` / ``python FILE ...`` through ``runpy``; ``&&``, ``\\`` continuations,
  comments and ``> FILE`` work as in the shell; anything else is an error.
- Commands that run agents are checked as written (options, agent names, scenario, sweep values,
  output directory: everything the command validates) and then run at a toy size: the first seed
  and swept value, one training episode (two with a load step), at most one evaluation episode,
  the first two of the agents named that neither learn nor train themselves (the rules, the
  oracle), in one local process, with no report at the end (``aif-offload report`` builds
  reports). A command naming learning agents only is checked and not run. So blocks that read
  results find some, and a full sweep costs seconds.
- ``<!-- doc-test: skip (reason) -->`` on the line before a block skips it; the reason is
  required and skips are kept few (``MAX_SKIPS``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import re
import runpy
import shlex
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(?P<lang>[\w+-]*)(?P<info>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.S | re.M)
SAVE_AS = re.compile(r"\bfile=(?P<name>[\w.-]+\.py)\b")
SKIP = re.compile(r"<!--\s*doc-test:\s*skip\s*(?P<reason>\(.*?\))?\s*-->\s*$")
MAX_SKIPS = 3  # whole docs; each needs a reason
RUN = {"python", "py", "bash", "sh", "shell", "console"}
TEXT = {"", "text", "txt", "toml"}
LOOKS_LIKE_A_COMMAND = re.compile(r"^\s*(\$ )?(aif-offload|python3?|\.venv/bin/|pip) ", re.M)


@dataclasses.dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    body: str
    skip: str | None  # the reason, if skipped
    save_as: str | None = None  # ```python file=NAME.py: also written to NAME.py

    def where(self) -> str:
        shown = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path.name
        return f"{shown}:{self.line}"


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = SKIP.search(before)
        reason = None
        if marker:
            reason = (marker.group("reason") or "").strip("()").strip()
            if not reason:
                pytest.fail(f"{path.name}:{line}: doc-test: skip needs a reason in parentheses")
        lang = match.group("lang").lower()
        save = SAVE_AS.search(match.group("info"))
        found.append(
            Block(path, line, lang, match.group("body"), reason, save and save.group("name"))
        )
    return found


class ValidatedOnly(Exception):
    """A command whose agents all learn: it was checked, not run."""


def _is_cheap(name: str) -> bool:
    from aif_offload.agents import agent_class

    cls = agent_class(name)  # raises ValueError for an unknown agent, as the command would
    return not (cls.learns or cls.trains_itself)


def _toy(real):
    """``run_experiment`` that checks the spec as given, then runs a toy-sized part of it."""

    def run_experiment(spec, directory, **options):
        from aif_offload.experiment.executors import EXECUTORS

        if options.get("executor", "local") not in EXECUTORS:
            raise ValueError(f"--executor: unknown executor '{options['executor']}'")
        if (options.get("workers") or 1) < 1:
            raise ValueError(f"--workers: must be >= 1, got {options['workers']}")
        cheap = tuple(name for name in spec.agents if _is_cheap(name))[:2]
        if not cheap:
            raise ValidatedOnly(spec.name)
        episodes = 2 if spec.schedule else 1  # a load step needs an episode on either side
        toy = dataclasses.replace(
            spec,
            agents=cheap,
            sources=tuple((name, source) for name, source in spec.sources if name in cheap),
            seeds=spec.seeds[:1],
            episodes=episodes,
            eval_episodes=min(spec.eval_episodes, 1),
            values=spec.values[:1],
            schedule=tuple((1, load) for _, load in spec.schedule[:1]),
        )
        options = {**options, "executor": "local", "workers": 1, "address": None}
        return real(toy, directory, **options)

    return run_experiment


def _commands(body: str) -> list[list[str]]:
    """Shell words of each command: continuations joined, comments dropped, split at ``&&``."""
    commands = []
    for line in body.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            commands.append(words[:cut])
            words = words[cut + 1 :]
    return [c for c in commands if c]


def _run_command(words: list[str], where: str) -> None:
    target = None
    if ">" in words:
        at = words.index(">")
        words, target = words[:at], Path(words[at + 1])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = _dispatch(words, where)
    if target is not None:
        target.write_text(out.getvalue())
    assert code in (0, None), f"{where}: `{shlex.join(words)}` exited with {code}"


def _dispatch(words: list[str], where: str) -> int | None:
    from aif_offload.cli import main

    head, *args = words
    if head in ("aif-offload", ".venv/bin/aif-offload"):
        argv = sys.argv
        sys.argv = ["aif-offload", *args]  # the command recorded in results.nc
        try:
            return main(args)
        finally:
            sys.argv = argv
    python = Path(head).name in ("python", "python3") and bool(args)
    module = python and args[0] == "-m" and args[1:2] and args[1].startswith("aif_offload")
    script = python and args[0] != "-m" and (ROOT / args[0]).is_file()
    if module or script:
        argv = sys.argv
        try:
            if module:
                sys.argv = [args[1], *args[2:]]
                runpy.run_module(args[1], run_name="__main__", alter_sys=True)
            else:
                sys.argv = list(args)
                runpy.run_path(str(ROOT / args[0]), run_name="__main__")
        except SystemExit as done:
            return done.code
        finally:
            sys.argv = argv
        return 0
    pytest.fail(
        f"{where}: the doc test cannot run `{shlex.join(words)}` (it runs aif-offload, "
        "python -m aif_offload..., python FILE); "
        "mark the block <!-- doc-test: skip (reason) -->"
    )


def _run_block(block: Block, namespace: dict) -> None:
    if block.lang in ("python", "py"):
        if block.save_as:
            Path(block.save_as).write_text(block.body, encoding="utf-8")
        code = compile(block.body, block.where(), "exec")
        exec(code, namespace)
        return
    for words in _commands(block.body):
        with contextlib.suppress(ValidatedOnly):  # checked as written; nothing to run
            _run_command(words, block.where())


def test_the_docs_have_code_blocks_and_few_skips():
    every = [b for path in DOCS for b in blocks(path)]
    assert sum(b.lang in RUN for b in every) >= 5
    skipped = [f"{b.where()} ({b.skip})" for b in every if b.skip]
    assert len(skipped) <= MAX_SKIPS, f"too many skipped blocks: {skipped}"


@pytest.mark.slow
@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_every_code_block_runs(path, tmp_path, monkeypatch):
    import aif_offload.cli
    import aif_offload.experiment.executors as executors

    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    toy = _toy(executors.run_experiment)
    monkeypatch.setattr(executors, "run_experiment", toy)  # what python -m scripts import
    monkeypatch.setattr(aif_offload.cli, "run_experiment", toy)
    monkeypatch.setattr(aif_offload.cli, "_build_report", lambda directory: None)
    namespace: dict = {"__name__": "__doc_test__"}
    for block in blocks(path):
        if block.lang not in RUN | TEXT:
            pytest.fail(
                f"{block.where()}: unknown block language '{block.lang}' (use {RUN | TEXT})"
            )
        if block.lang == "toml":
            tomllib.loads(block.body)
        if not block.lang and LOOKS_LIKE_A_COMMAND.search(block.body):
            pytest.fail(f"{block.where()}: a command in a block without a language: tag it bash")
        if block.skip is None and block.lang in RUN:
            _run_block(block, namespace)


def test_the_conventions_hold_on_a_sample(tmp_path, monkeypatch):
    """The parser itself: continuations, comments, &&, redirects, skips, text blocks."""
    sample = tmp_path / "sample.md"
    sample.write_text(
        "```bash\n"
        "aif-offload scenarios --show paper > my.toml   # a comment\n"
        "aif-offload run --agent greedy \\\n    --out x && aif-offload agents\n"
        "```\n\n"
        "<!-- doc-test: skip (needs a cluster) -->\n"
        "```bash\nray start --head\n```\n\n"
        "```\nx[t+1] = x[t] + u\n```\n"
    )
    found = blocks(sample)
    assert [(b.lang, b.skip) for b in found] == [
        ("bash", None),
        ("bash", "needs a cluster"),
        ("", None),
    ]
    assert _commands(found[0].body) == [
        ["aif-offload", "scenarios", "--show", "paper", ">", "my.toml"],
        ["aif-offload", "run", "--agent", "greedy", "--out", "x"],
        ["aif-offload", "agents"],
    ]
    assert not LOOKS_LIKE_A_COMMAND.search(found[2].body)
    assert LOOKS_LIKE_A_COMMAND.search("aif-offload compare\n")
    monkeypatch.chdir(tmp_path)
    _run_command(_commands(found[0].body)[0], "sample")
    assert tomllib.loads(Path("my.toml").read_text())["name"] == "paper"
    sample.write_text("```python file=my_model.py\nLEVELS = 3\n```\n")
    [saved] = blocks(sample)
    assert saved.save_as == "my_model.py"
    namespace: dict = {}
    _run_block(saved, namespace)
    assert namespace["LEVELS"] == 3 and Path("my_model.py").read_text() == "LEVELS = 3\n"
    sample.write_text("<!-- doc-test: skip -->\n```bash\nls\n```\n")
    with pytest.raises(pytest.fail.Exception, match="needs a reason"):
        blocks(sample)
