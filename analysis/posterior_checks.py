"""Posterior checks of ``aif-pyro`` runs: offline NUTS fits (R-hat, ESS, divergences) and PPCs.

For every ``DIR/runs/aif-pyro/.../seed=<s>.beliefs.nc`` of an experiment directory, fits the
latent load model by NUTS to that seed's last training episode and writes ``seed=<s>.nuts.nc``
next to it (skipped if it exists: re-running resumes), then prints per file the ``az.summary`` of
the main parameters (R-hat, bulk and tail ESS), the divergences and wall time, and the posterior
predictive check numbers of the NUTS fit and of the agent's own SVI posterior (from the belief
file) on the same episode. See ``aif_offload.diagnostics.posterior`` for what the files hold.

Run ``python -m aif_offload.analysis.posterior_checks DIR [--seed N] [--chains 4]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from aif_offload.diagnostics.posterior import (
    BELIEFS_SUFFIX,
    COMPUTE,
    MODELS,
    PRIORS,
    NutsSettings,
    load_groups,
    nuts_check,
    nuts_path,
    nuts_summary,
    select_episode,
)
from aif_offload.diagnostics.ppc import compare_posteriors, ppc_checks

PROG = "posterior_checks"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints the usage too)
        print(f"{PROG}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    defaults = NutsSettings()
    parser = _Parser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path, help="experiment directory (holds runs/)")
    parser.add_argument("--agent", default="aif-pyro", help="agent whose belief files to check")
    parser.add_argument("--seed", type=int, default=None, help="check only this seed")
    parser.add_argument("--chains", type=int, default=defaults.chains)
    parser.add_argument("--warmup", type=int, default=defaults.warmup)
    parser.add_argument("--samples", type=int, default=defaults.samples, help="draws per chain")
    parser.add_argument("--max-tree-depth", type=int, default=defaults.max_tree_depth)
    parser.add_argument("--target-accept", type=float, default=defaults.target_accept)
    parser.add_argument(
        "--chain-method", choices=("sequential", "parallel"), default=defaults.chain_method
    )
    parser.add_argument("--prior", choices=PRIORS, default=defaults.prior)
    parser.add_argument("--model", choices=MODELS, default=defaults.model)
    parser.add_argument("--compute", choices=COMPUTE, default=defaults.compute)
    parser.add_argument("--compute-noise-floor", type=float, default=defaults.compute_noise_floor)
    parser.add_argument("--rng-seed", type=int, default=defaults.seed, help="NUTS random seed")
    parser.add_argument("--overwrite", action="store_true", help="refit existing .nuts.nc files")
    return parser


def belief_files(directory: Path, agent: str, seed: int | None) -> list[Path]:
    """The agent's belief files under ``directory/runs`` (optionally one seed's); ``ValueError``
    if the directory or the files are missing."""
    if not directory.is_dir():
        raise ValueError(f"{directory}: no such directory")
    files = sorted((directory / "runs" / agent).glob(f"**/*{BELIEFS_SUFFIX}"))
    if seed is not None:
        files = [f for f in files if f.name == f"seed={seed}{BELIEFS_SUFFIX}"]
    if not files:
        which = f" for seed {seed}" if seed is not None else ""
        raise ValueError(f"{directory}: no {agent} belief files{which} under runs/{agent}/")
    return files


def _fmt(table: pd.DataFrame, columns: list[str]) -> str:
    head = "| " + " | ".join(["", *columns]) + " |"
    rule = "|" + "---|" * (len(columns) + 1)
    lines = [head, rule]
    for name, row in table[columns].iterrows():
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join([str(name), *cells]) + " |")
    return "\n".join(lines)


def report(beliefs: Path, nuts: Path, directory: Path) -> str:
    """The summary and PPC tables of one checked file, as Markdown."""
    import arviz as az

    idata = az.from_netcdf(nuts)
    summary = nuts_summary(idata)
    attrs = idata.posterior.attrs
    episode = int(attrs.get("checked_episode", idata.observed_data["episode"].values[0]))
    lines = [
        f"### {nuts.relative_to(directory)} (seed {attrs.get('checked_seed')}, episode {episode})",
        "",
        f"{summary.chains} chains x {summary.draws} draws, {summary.divergences} divergences, "
        f"NUTS {attrs.get('nuts_seconds')} s; compute observations: "
        f"{attrs.get('compute_observations')}",
        "",
        _fmt(summary.table, ["mean", "sd", "ess_bulk", "ess_tail", "r_hat"]),
        "",
    ]
    columns = ["n", "p_mean", "p_sd", "resid_sd", "p_resid_sd", "cover_50", "cover_90"]
    nuts_ppc = ppc_checks(idata).rename(index=lambda v: f"{v} (NUTS)")
    groups = load_groups(beliefs)
    if "posterior" in groups and "process_noise" in groups["posterior"]:
        seed = int(attrs.get("checked_seed", groups["constant_data"]["seed"].values[0]))
        both = compare_posteriors(idata, groups["posterior"], seed)
        lines += [
            "NUTS against the agent's SVI posterior (after its last refit):",
            "",
            _fmt(both, list(both.columns)),
            "",
        ]
    if "posterior_predictive" in groups:
        svi_ppc = ppc_checks(groups, episodes=[episode]).rename(index=lambda v: f"{v} (SVI)")
        nuts_ppc = pd.concat([nuts_ppc, svi_ppc])
    lines += [f"Posterior predictive checks, episode {episode}:", "", _fmt(nuts_ppc, columns), ""]
    return "\n".join(lines)


def run(args: argparse.Namespace, console: Console) -> None:
    settings = NutsSettings(
        chains=args.chains,
        warmup=args.warmup,
        samples=args.samples,
        max_tree_depth=args.max_tree_depth,
        target_accept=args.target_accept,
        chain_method=args.chain_method,
        seed=args.rng_seed,
        prior=args.prior,
        model=args.model,
        compute_noise_floor=args.compute_noise_floor,
        compute=args.compute,
    )
    files = belief_files(args.directory, args.agent, args.seed)
    checked = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    with progress:
        overall = progress.add_task("NUTS checks", total=len(files))
        for path in files:
            target = nuts_path(path)
            name = str(path.relative_to(args.directory))
            try:
                groups = load_groups(path)
                select_episode(groups, seed=args.seed)
            except ValueError as err:
                console.print(f"skipped {name}: {err}")
                progress.advance(overall)
                continue
            if target.exists() and not args.overwrite:
                console.print(f"exists, kept: {target.relative_to(args.directory)}")
            else:
                chains = progress.add_task(f"  {name}: chains", total=settings.chains)
                nuts_check(
                    path,
                    settings,
                    seed=args.seed,
                    on_chain=lambda _, task=chains: progress.advance(task),
                )
                progress.remove_task(chains)
            checked.append((path, target))
            progress.advance(overall)
    if not checked:
        raise ValueError(f"{args.directory}: no {args.agent} belief file holds observations")
    for path, target in checked:
        print(report(path, target, args.directory))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    torch.set_num_threads(1)
    try:
        run(args, Console(stderr=True))
    except ValueError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
