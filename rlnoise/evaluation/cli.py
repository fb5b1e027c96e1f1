"""``rlnoise evaluate`` and ``scripts/evaluate.py``: one argument set, one code path.

Models come from ``--model PATH`` (or ``--model GROUP=PATH``; plain paths form
one group named ``model``) and/or ``--runs DIR`` (each immediate
sub-directory holding a ``model.zip``, plus an optional ``vecnormalize.pkl``,
is one run; the group is named after ``DIR``). Runs that ``rlnoise train``
has not finished (no valid ``done.json``) are skipped with a warning;
``--include-unfinished`` evaluates them too. ``--grid`` is a YAML path or
the name of a grid in ``configs/eval/`` (shipped with rlnoise); without it,
the ``evaluation`` entry of the runs' training config, else ``default``. Results go to
``--out``: ``report.json``, ``episodes.csv``, ``summary.csv``,
``robustness_curve.png``, ``conditions_bar.png``, and ``cells/`` (finished
cells, reused when the same command runs again). An ``--out`` that holds the
report of a different evaluation (other models, grid, env, episodes, seed or
step cap) is refused, never overwritten; ``--out`` is locked while the command
runs (a second command on it is refused) and every file is replaced whole.
Ctrl-C keeps the finished cells: run the same command again to resume.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "add_arguments",
    "add_evaluate_parser",
    "check_flags",
    "discover",
    "main",
    "resolve_grid",
    "run_evaluate",
]


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
        help="directory with one sub-directory per run (model.zip, optional vecnormalize.pkl), "
        "or the root of a sweep (one group per member)",
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
    parser.add_argument(
        "--include-unfinished",
        action="store_true",
        help="also evaluate --runs that `rlnoise train` did not finish (no valid done.json)",
    )
    parser.add_argument("--no-resume", action="store_true", help="ignore finished cells in --out")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")


def check_flags(args: argparse.Namespace) -> None:
    """Check every number and name flag before anything is loaded; errors name the flag."""
    from rlnoise.core.checks import check_int
    from rlnoise.evaluation.models import algorithm_key, resolve_device

    check_int("--episodes", args.episodes, low=1)
    check_int("--seed", args.seed, low=0)
    check_int("--batch-size", args.batch_size, low=1)
    if args.max_steps is not None:
        check_int("--max-steps", args.max_steps, low=1)
    check_int("--threads", args.threads, low=1)
    check_int("--bootstrap", args.bootstrap, low=1)
    resolve_device(args.device, name="--device")
    if args.algo is not None:
        algorithm_key(args.algo, field="--algo")


def discover(args: argparse.Namespace) -> dict[str, list[Path]]:
    """``{--runs DIR: [model.zip of each run to evaluate]}``, unfinished runs left out.

    A run ``rlnoise train`` has not finished (see
    :func:`rlnoise.runs.contract.unfinished_reason`) is skipped with a one-line
    warning naming it, unless ``--include-unfinished``.

    Raises:
        ValueError: A ``--runs`` directory has runs but none is finished.
    """
    from rlnoise.evaluation.models import discover_runs
    from rlnoise.runs.contract import unfinished_reason

    found: dict[str, list[Path]] = {}
    for directory in args.runs:
        paths = discover_runs(directory, name="--runs")
        if args.include_unfinished:
            found[directory] = paths
            continue
        reasons = {path: unfinished_reason(path.parent) for path in paths}
        skipped = [f"{path.parent.name} ({why})" for path, why in reasons.items() if why]
        found[directory] = [path for path, why in reasons.items() if why is None]
        if not found[directory]:
            raise ValueError(
                f"--runs {directory}: no finished run ({', '.join(skipped)}); wait for "
                "`rlnoise train` to finish them, or pass --include-unfinished"
            )
        if skipped:
            print(
                f"warning: --runs {directory}: skipping unfinished run(s) {', '.join(skipped)}; "
                "--include-unfinished evaluates them",
                file=sys.stderr,
            )
    return found


def _models(args: argparse.Namespace, found: dict[str, list[Path]]) -> dict[str, list[Any]]:
    """``{group: [ModelRun]}`` from ``--model`` and ``--runs``, loaded (digests are needed)."""
    from rlnoise.evaluation.models import load_run, saved_run_name

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
        for path in found[directory]:
            algo = args.algo or _trained_config(path.parent).get("algo")
            run = load_run(path, name=path.parent.name, group=name, algo=algo, device=args.device)
            groups.setdefault(name, []).append(run)
    if not groups:
        raise ValueError("give at least one --model PATH or --runs DIR")
    return groups


def _trained_config(run_directory: Path) -> dict[str, Any]:
    """The resolved config ``rlnoise train`` wrote beside a model (empty if none)."""
    from rlnoise.runs.config import read_run_config

    return read_run_config(run_directory)


def _trained_configs(found: dict[str, list[Path]]) -> list[tuple[Path, dict[str, Any]]]:
    """``(run directory, its training config)`` of every run to evaluate from ``--runs``."""
    return [
        (path.parent, _trained_config(path.parent)) for paths in found.values() for path in paths
    ]


def _env(args: argparse.Namespace, found: dict[str, list[Path]]) -> Any:
    """``--env``, or the env of the ``--runs`` directories written by ``rlnoise train``.

    A run's env is rebuilt from its config without rlnoise's noise wrappers
    (:data:`rlnoise.wrappers.NOISE_WRAPPERS`): they perturbed training; the
    conditions decide what the test env adds.
    """
    if args.env is not None:
        return args.env
    if not args.runs:
        raise ValueError(
            "--env is needed with --model: the env id to evaluate on, e.g. CartPole-v1"
        )
    from rlnoise.runs.contract import CONFIG_FILE
    from rlnoise.runs.env import evaluation_env_factory
    from rlnoise.wrappers import NOISE_WRAPPERS

    envs = {}
    for run_directory, config in _trained_configs(found):
        data = config.get("env")
        if data is None:
            raise ValueError(
                f"--env is needed: {run_directory} holds no config.yaml of `rlnoise train`"
            )
        try:
            env = evaluation_env_factory(data, leave_out=NOISE_WRAPPERS)
        except ValueError as error:
            raise ValueError(f"run config {run_directory / CONFIG_FILE}: {error}") from None
        envs[repr(env)] = env
    if len(envs) != 1:
        raise ValueError(f"the runs were trained on different envs {sorted(envs)}; pass --env")
    return next(iter(envs.values()))


def _grid(args: argparse.Namespace, found: dict[str, list[Path]]) -> tuple[Any, str]:
    """The grid to run and how to name it in the report's metadata.

    ``--grid`` when given; otherwise the ``evaluation`` entry of the training
    configs of ``--runs`` (they must agree); otherwise the ``default`` grid.
    """
    name = args.grid
    if name is None:
        grids: dict[str, Any] = {}
        for _, config in _trained_configs(found):
            evaluation = config.get("evaluation")
            if evaluation is not None:
                grids[repr(evaluation)] = evaluation
        if len(grids) > 1:
            raise ValueError(
                f"the runs' training configs name different evaluation grids {sorted(grids)}; "
                "pass --grid"
            )
        name = next(iter(grids.values()), "default")
        if not isinstance(name, str):
            return name, "the runs' training config"
    path = resolve_grid(name)
    return path, str(path)


def _identity(
    args: argparse.Namespace, models: dict[str, list[Any]], env: Any, grid: Any
) -> dict[str, Any]:
    """What this command evaluates (compared with a report already in ``--out``)."""
    from rlnoise.evaluation.envs import EnvMaker
    from rlnoise.evaluation.grid import build_grid
    from rlnoise.evaluation.identity import evaluation_identity

    conditions = build_grid(grid, env if isinstance(env, str) else None)
    return evaluation_identity(
        env=EnvMaker(env).name,
        conditions=[c.name for c in conditions],
        runs=[(group, run.digest) for group, runs in models.items() for run in runs],
        n_episodes=args.episodes,
        seed=args.seed,
        max_steps=args.max_steps,
    )


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate, write the report files, print the tables.

    ``--out`` is checked writable and locked before any episode runs, and stays
    locked until the last file is written.
    """
    from rlnoise.evaluation.display import print_tables, save_report
    from rlnoise.evaluation.identity import check_report_directory
    from rlnoise.evaluation.runner import evaluate_robustness
    from rlnoise.runs.discovery import expand_sweep_roots
    from rlnoise.runs.lock import directory_lock

    check_flags(args)
    args.runs = expand_sweep_roots(args.runs)  # a sweep's root: one group per member
    found = discover(args)
    grid, grid_label = _grid(args, found)
    models = _models(args, found)
    env = _env(args, found)
    identity = _identity(args, models, env, grid)
    with directory_lock(args.out, "--out") as out:
        check_report_directory(out, identity, "--out")
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
        paths = save_report(report, out, plots=not args.no_plots, n_resamples=args.bootstrap)
    print_tables(report, n_resamples=args.bootstrap)
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
    from rlnoise.runs.errors import run_command

    parser = argparse.ArgumentParser(
        prog="evaluate.py",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run_command("evaluate", lambda: run_evaluate(args), debug=args.debug)
