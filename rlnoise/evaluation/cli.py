"""``rlnoise evaluate`` and ``scripts/evaluate.py``: one argument set, one code path.

Models come from ``--model PATH`` (or ``--model GROUP=PATH``; plain paths form
one group named ``model``) and/or ``--runs DIR`` (each immediate
sub-directory holding a ``model.zip``, plus an optional ``vecnormalize.pkl``,
is one run; the group is named after ``DIR``). ``--grid`` is a YAML path or
the name of a grid in ``configs/eval/`` (shipped with rlnoise); without it,
the ``evaluation`` entry of the runs' training config, else ``default``. Results go to
``--out``: ``report.json``, ``episodes.csv``, ``summary.csv``,
``robustness_curve.png``, ``conditions_bar.png``, and ``cells/`` (finished
cells, reused when the same command runs again). An ``--out`` that holds the
report of a different evaluation (other models, grid, env, episodes, seed or
step cap) is refused, never overwritten.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "add_evaluate_parser", "main", "resolve_grid", "run_evaluate"]


def resolve_grid(value: str) -> Path:
    """:func:`rlnoise.evaluation.grid.resolve_grid`, imported on use (``--help`` stays fast)."""
    from rlnoise.evaluation.grid import resolve_grid as resolve

    return resolve(value)


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``evaluate`` options (shared by the console script and scripts/evaluate.py)."""
    parser.add_argument(
        "--model",
        nargs="+",
        action="extend",
        default=[],
        metavar="[GROUP=]PATH",
        help="saved SB3 model zip(s); GROUP=PATH puts a model in a named group",
    )
    parser.add_argument(
        "--runs",
        action="append",
        default=[],
        metavar="DIR",
        help="directory with one sub-directory per run (model.zip, optional vecnormalize.pkl)",
    )
    parser.add_argument(
        "--env",
        default=None,
        help="Gymnasium env id, e.g. CartPole-v1 (default for --runs of `rlnoise train`: the "
        "runs' own env, with their non-noise wrappers)",
    )
    parser.add_argument(
        "--grid",
        default=None,
        help="grid YAML path or name in configs/eval (default: the `evaluation` of the --runs' "
        "training config, else 'default')",
    )
    parser.add_argument("--episodes", type=int, default=100, help="episodes per run and condition")
    parser.add_argument("--seed", type=int, default=0, help="episode k resets with seed + k")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument(
        "--algo", default=None, help="algorithm when it cannot be detected (PPO...)"
    )
    parser.add_argument("--batch-size", type=int, default=256, help="episodes live at once")
    parser.add_argument("--max-steps", type=int, default=None, help="cap on steps per episode")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (1 suits small MLP policies)"
    )
    parser.add_argument("--bootstrap", type=int, default=10_000, help="bootstrap resamples for CIs")
    parser.add_argument(
        "--reference-score",
        type=_finite_float,
        default=None,
        help="return that scores 0 on the normalised scale (default: the IQM of a uniformly "
        "random policy on the same episodes)",
    )
    parser.add_argument("--no-resume", action="store_true", help="ignore finished cells in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def _models(args: argparse.Namespace) -> dict[str, list[Any]]:
    """``{group: [ModelRun]}`` from ``--model`` and ``--runs``, loaded (digests are needed)."""
    from rlnoise.evaluation.models import discover_runs, load_run, saved_run_name

    groups: dict[str, list[Any]] = {}
    for item in args.model:
        group, sep, path = item.partition("=")
        if not sep:
            group, path = "model", item
        if not group or not path:
            raise ValueError(f"--model takes PATH or GROUP=PATH, got {item!r}")
        run = load_run(
            path, name=saved_run_name(path), group=group, algo=args.algo, device=args.device
        )
        groups.setdefault(group, []).append(run)
    directories: dict[str, Path] = {}
    for directory in args.runs:
        resolved = Path(directory).resolve()
        name = resolved.name
        if directories.get(name) == resolved:
            raise ValueError(f"--runs {directory} is given twice")
        if name in directories or name in groups:
            other = directories.get(name, "--model")
            raise ValueError(
                f"--runs {directory} would join the group {name!r} of {other}; every --runs "
                "directory forms its own group, named after the directory"
            )
        directories[name] = resolved
        for path in discover_runs(directory):
            algo = args.algo or _trained_config(path.parent).get("algo")
            run = load_run(path, name=path.parent.name, group=name, algo=algo, device=args.device)
            groups.setdefault(name, []).append(run)
    if not groups:
        raise ValueError("give at least one --model PATH or --runs DIR")
    return groups


def _trained_config(run_directory: Path) -> dict[str, Any]:
    """The resolved config ``rlnoise train`` wrote beside a model (empty if none)."""
    import yaml

    path = run_directory / "config.yaml"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text())
    return data if isinstance(data, dict) else {}


def _trained_configs(args: argparse.Namespace) -> list[tuple[Path, dict[str, Any]]]:
    """``(run directory, its training config)`` of every run found in ``--runs``."""
    from rlnoise.evaluation.models import discover_runs

    return [
        (path.parent, _trained_config(path.parent))
        for directory in args.runs
        for path in discover_runs(directory)
    ]


def _env(args: argparse.Namespace) -> Any:
    """``--env``, or the env of the ``--runs`` directories written by ``rlnoise train``."""
    if args.env is not None:
        return args.env
    if not args.runs:
        raise ValueError(
            "--env is needed with --model: the env id to evaluate on, e.g. CartPole-v1"
        )
    from rlnoise.experiments.config import EnvConfig
    from rlnoise.experiments.train import evaluation_env_factory

    envs = {}
    for run_directory, config in _trained_configs(args):
        data = config.get("env")
        if data is None:
            raise ValueError(
                f"--env is needed: {run_directory} holds no config.yaml of `rlnoise train`"
            )
        env = evaluation_env_factory(EnvConfig.from_dict(data))
        envs[repr(env)] = env
    if len(envs) != 1:
        raise ValueError(f"the runs were trained on different envs {sorted(envs)}; pass --env")
    return next(iter(envs.values()))


def _grid(args: argparse.Namespace) -> tuple[Any, str]:
    """The grid to run and how to name it in the report's metadata.

    ``--grid`` when given; otherwise the ``evaluation`` entry of the training
    configs of ``--runs`` (they must agree); otherwise the ``default`` grid.
    """
    name = args.grid
    if name is None:
        found: dict[str, Any] = {}
        for _, config in _trained_configs(args):
            evaluation = config.get("evaluation")
            if evaluation is not None:
                found[repr(evaluation)] = evaluation
        if len(found) > 1:
            raise ValueError(
                f"the runs' training configs name different evaluation grids {sorted(found)}; "
                "pass --grid"
            )
        name = next(iter(found.values()), "default")
        if not isinstance(name, str):
            return name, "the runs' training config"
    path = resolve_grid(name)
    return path, str(path)


def _identity(
    args: argparse.Namespace, models: dict[str, list[Any]], env: Any, grid: Any
) -> dict[str, Any]:
    """What this command evaluates (compared with a report already in ``--out``)."""
    from rlnoise.core._checks import check_int
    from rlnoise.evaluation.envs import EnvMaker
    from rlnoise.evaluation.grid import build_grid
    from rlnoise.evaluation.report import evaluation_identity

    conditions = build_grid(grid, env if isinstance(env, str) else None)
    return evaluation_identity(
        env=EnvMaker(env).name,
        conditions=[c.name for c in conditions],
        runs=[(group, run.digest) for group, runs in models.items() for run in runs],
        n_episodes=check_int("--episodes", args.episodes, low=1),
        seed=check_int("--seed", args.seed, low=0),
        max_steps=args.max_steps,
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate, write the report files, print the tables."""
    from rlnoise.evaluation.report import check_report_directory
    from rlnoise.evaluation.runner import evaluate_robustness

    out = Path(args.out)
    grid, grid_label = _grid(args)
    models = _models(args)
    env = _env(args)
    check_report_directory(out, _identity(args, models, env, grid), "--out")
    report = evaluate_robustness(
        models,
        env,
        grid,
        n_episodes=args.episodes,
        seed=args.seed,
        device=args.device,
        algo=args.algo,
        batch_size=args.batch_size,
        max_steps=args.max_steps,
        resume_dir=None if args.no_resume else out / "cells",
        progress=not args.no_progress,
        num_threads=args.threads,
        reference_score=args.reference_score,
    )
    report.metadata["grid"] = grid_label
    paths = report.save(out, plots=not args.no_plots, n_resamples=args.bootstrap)
    report.print_table(n_resamples=args.bootstrap)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


#: The module docstring as plain text for ``--help`` (no reST double backquotes).
_DESCRIPTION = (__doc__ or "").replace("``", "`")


def add_evaluate_parser(
    sub: argparse._SubParsersAction,
) -> Callable[[argparse.Namespace], int]:
    """Register ``rlnoise evaluate`` on the console script's sub-parsers; returns its handler."""
    parser = sub.add_parser(
        "evaluate",
        help="evaluate saved models under clean and perturbed conditions (table, JSON, CSV, PNG)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run_evaluate


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``scripts/evaluate.py``), errors as one line like the CLI."""
    parser = argparse.ArgumentParser(
        prog="evaluate.py",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_evaluate(args)
    except (ValueError, FileNotFoundError, FileExistsError) as error:
        if args.debug:
            raise
        print(f"evaluate: error: {error}", file=sys.stderr)
        return 2
