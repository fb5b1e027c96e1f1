"""Benchmark: a sweep of training seeds in this process, in local processes, and as Ray tasks.

The quickstart's PPO on CartPole-v1 (``configs/quickstart.yaml``: 8 envs,
rollouts of 256 x 8 steps) with 8 seeds x 5k steps (each run takes 6,144
steps: whole rollouts) is trained through ``train_many``, as ``rlnoise train``
does, into a fresh directory per backend:

  * ``sequential``: one run after another in this process (``--backend local``);
  * ``local``: ``--workers`` spawned processes (``--backend local --workers W``);
  * ``ray``: Ray tasks on a Ray started here with ``--workers`` CPUs
    (``--backend ray --workers W``); ``ray.init`` is timed apart (start-up)
    and so is ``ray.shutdown``.

Target: Ray's wall time within 1.3x of the local processes' plus Ray's
start-up. Every backend must write the same weights: the script checks that
``policy.pth`` of every run is byte for byte the same across backends.

Usage:
    python scripts/bench_scale.py [--workers 2] [--seeds 8] [--steps 5000] [--repeats 1]

Without Ray installed (``pip install "rlnoise[ray]"``) the Ray row is skipped.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlnoise.experiments.config import load_config
from rlnoise.experiments.train import train_many
from rlnoise.runs.backends import Backend

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "quickstart.yaml"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes/CPUs")
    parser.add_argument("--seeds", type=int, default=8, help="training seeds")
    parser.add_argument("--steps", type=int, default=5000, help="training steps per seed")
    parser.add_argument("--repeats", type=int, default=1, help="times each backend runs")
    return parser.parse_args()


def timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def train(args: argparse.Namespace, out: Path, backend: Backend) -> tuple[float, list[Path]]:
    """Train the sweep into ``out`` on ``backend``; returns the wall time and the run dirs."""
    overrides = [
        f"total_timesteps={args.steps}",
        f"seeds={list(range(args.seeds))}",
        f"output_dir={out}",
    ]
    config = load_config(CONFIG, overrides=overrides)
    runs: list[Path] = []
    wall = timed(lambda: runs.extend(train_many([config], backend=backend, log=lambda _: None)))
    return wall, runs


def weights(runs: list[Path]) -> list[bytes]:
    out = []
    for run in runs:
        with zipfile.ZipFile(run / "model.zip") as archive:
            out.append(archive.read("policy.pth"))
    return out


def ray_or_none() -> Any:
    try:
        import ray
    except ImportError:
        return None
    return ray


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(1)  # as `rlnoise train` (and its workers) do
    ray = ray_or_none()
    walls: dict[str, list[float]] = {"sequential": [], "local": [], "ray": []}
    startups: list[float] = []
    shutdowns: list[float] = []
    reference: list[bytes] | None = None
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats):
            plans: list[tuple[str, Backend]] = [
                ("sequential", Backend()),
                ("local", Backend(workers=args.workers)),
            ]
            if ray is not None:
                plans.append(("ray", Backend("ray")))
            for name, backend in plans:
                if name == "ray":
                    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
                    startups.append(
                        timed(
                            lambda: ray.init(
                                num_cpus=args.workers,
                                include_dashboard=False,
                                logging_level=logging.ERROR,
                            )
                        )
                    )
                wall, runs = train(args, Path(tmp) / f"{name}_{repeat}", backend)
                if name == "ray":
                    shutdowns.append(timed(ray.shutdown))
                walls[name].append(wall)
                print(f"{name:>10}: {wall:6.1f} s wall ({len(runs)} runs)", flush=True)
                reference = reference or weights(runs)
                assert weights(runs) == reference, f"{name} wrote other weights"
    median = {name: statistics.median(w) for name, w in walls.items() if w}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end (1, 5, 15 min): {load} on {os.cpu_count()} cores")
    print(
        f"{args.seeds} seeds x {args.steps} steps, {args.workers} workers, median of "
        f"{args.repeats}; every backend wrote the same policy.pth for every seed"
    )
    for name, wall in median.items():
        print(f"  {name:>10}: {wall:6.1f} s  ({median['sequential'] / wall:.2f}x sequential)")
    if ray is None:
        print('  ray: skipped (pip install "rlnoise[ray]")')
        return
    startup, shutdown = statistics.median(startups), statistics.median(shutdowns)
    print(f"  ray start-up (ray.init): {startup:.1f} s; ray.shutdown: {shutdown:.1f} s")
    ratio = median["ray"] / median["local"]
    with_startup = (median["ray"] + startup) / median["local"]
    print(
        f"  ray / local: {ratio:.2f}x without start-up, {with_startup:.2f}x with it "
        f"(target: ray <= 1.3x local + start-up: {'met' if ratio <= 1.3 else 'not met'})"
    )


if __name__ == "__main__":
    main()
