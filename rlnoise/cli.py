"""The ``rlnoise`` console script.

Subcommands are registered in :data:`COMMANDS`; each gets its own argparse
sub-parser. Errors a user can fix (bad input, a refused or busy output
directory, disk full, a read-only directory) are printed as one line with exit
status 2; Ctrl-C prints what was kept and exits 130; ``--debug`` shows the
traceback instead (see :func:`rlnoise.runs.errors.run_command`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

__all__ = ["main"]


def _cmd_spec(args: argparse.Namespace) -> int:
    from rlnoise.core.spec import as_noise_spec

    spec = as_noise_spec(args.spec)
    print(json.dumps(spec.to_dict(), indent=2))
    return 0


def _add_spec(sub: argparse._SubParsersAction) -> Callable[[argparse.Namespace], int]:
    parser = sub.add_parser("spec", help="parse a noise spec string and print its canonical dict")
    parser.add_argument("spec", help='compact spec, e.g. "gaussian:0.1" or "ou:0.2,theta=0.5"')
    return _cmd_spec


def _cmd_train(args: argparse.Namespace) -> int:
    from rlnoise.core.checks import check_int
    from rlnoise.runs.backends import backend_from_args

    check_int("--threads", args.threads, low=1)
    backend = backend_from_args(args, per="run")  # before loading: a missing Ray is one line
    from rlnoise.experiments.sweep import Sweep, load_experiment
    from rlnoise.experiments.train import train_many

    sources = [load_experiment(path, overrides=args.override) for path in args.config]
    if args.seeds:
        if len(set(args.seeds)) != len(args.seeds):
            raise ValueError(f"--seeds must not repeat, got {args.seeds}")
        for source in sources:
            for config in source.configs if isinstance(source, Sweep) else [source]:
                unknown = sorted(set(args.seeds) - set(config.seeds))
                if unknown:
                    which = "" if len(args.config) == 1 else f" ({config.name})"
                    raise ValueError(
                        f"--seeds {unknown} are not in the config's seeds {list(config.seeds)}"
                        f"{which}"
                    )
    import torch

    torch.set_num_threads(args.threads)
    directories = train_many(
        sources,
        backend=backend,
        seeds=args.seeds,
        threads=args.threads,
        progress=not args.no_progress,
        log=None,
    )
    roots = [s.root if isinstance(s, Sweep) else s.output_dir for s in sources]
    print(f"{len(directories)} run(s) in {', '.join(roots)}")
    return 0


def _add_train(sub: argparse._SubParsersAction) -> Callable[[argparse.Namespace], int]:
    from rlnoise.runs.backends import add_backend_arguments

    parser = sub.add_parser(
        "train", help="train experiment configs (and sweeps) over their seeds, here or on Ray"
    )
    parser.add_argument(
        "config",
        nargs="+",
        help="experiment YAML(s), e.g. configs/ppo_cartpole_obs_noise.yaml; a config with a "
        "`sweep` trains every experiment it expands into",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", help="train only these of the configs' seeds"
    )
    parser.add_argument(
        "--override",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. total_timesteps=2000 or env.n_envs=4 (repeatable)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads per run (default 1: fastest for small MLP policies; more for CNNs)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_backend_arguments(parser, per="run")
    return _cmd_train


def _cmd_demo(args: argparse.Namespace) -> int:
    from rlnoise.demo import run_demo

    return run_demo(args.out, steps=args.steps, episodes=args.episodes, device=args.device)


def _add_demo(sub: argparse._SubParsersAction) -> Callable[[argparse.Namespace], int]:
    parser = sub.add_parser(
        "demo",
        help="train PPO clean vs with observation noise on CartPole and compare their robustness",
    )
    parser.add_argument("--out", default="runs/demo", help="output directory (default: runs/demo)")
    parser.add_argument(
        "--steps", type=int, default=50_000, help="training steps per run (default: 50000)"
    )
    parser.add_argument(
        "--episodes", type=int, default=30, help="evaluation episodes per condition (default: 30)"
    )
    parser.add_argument(
        "--device", default="auto", help="evaluation device: auto (default), cpu, cuda"
    )
    return _cmd_demo


def _add_evaluate(sub: argparse._SubParsersAction) -> Callable[[argparse.Namespace], int]:
    from rlnoise.evaluation.cli import add_evaluate_parser

    return add_evaluate_parser(sub)


COMMANDS: list[Callable[[argparse._SubParsersAction], Callable[[argparse.Namespace], int]]] = [
    _add_spec,
    _add_train,
    _add_evaluate,
    _add_demo,
]


def build_parser() -> tuple[
    argparse.ArgumentParser, dict[str, Callable[[argparse.Namespace], int]]
]:
    """Return the top-level parser and the handler of each subcommand."""
    from rlnoise import __version__

    parser = argparse.ArgumentParser(
        prog="rlnoise",
        description="Noise injection and robustness evaluation for Stable-Baselines3 agents.",
    )
    parser.add_argument("--version", action="version", version=f"rlnoise {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers = {}
    for add in COMMANDS:
        before = set(sub.choices)
        handler = add(sub)
        (name,) = set(sub.choices) - before
        handlers[name] = handler
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rlnoise`` console script."""
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from rlnoise.runs.errors import run_command

    handler = handlers[args.command]
    return run_command(f"rlnoise {args.command}", lambda: handler(args), debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
