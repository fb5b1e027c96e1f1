"""Benchmark: a sweep of training seeds and an evaluation grid, in one process, local workers, Ray.

Two parts (``--part sweep|grid|both``), each timed side by side in one run,
``--repeats`` times, with the median reported; the load average is printed
(ratios measured on a shared machine are noisy).

**sweep**: the quickstart's PPO on CartPole-v1 (``configs/quickstart.yaml``: 8
envs, rollouts of 256 x 8 steps) with 8 seeds x 5k steps (each run takes
6,144 steps: whole rollouts) is trained through ``train_many``, as
``rlnoise train`` does, into a fresh directory per backend:

  * ``sequential``: one run after another in this process (``--backend local``);
  * ``local``: ``--workers`` spawned processes (``--backend local --workers W``);
  * ``ray``: Ray tasks on a Ray started here with ``--workers`` CPUs
    (``--backend ray --workers W``); ``ray.init`` is timed apart (start-up)
    and so is ``ray.shutdown``.

Target: Ray's wall time within 1.3x of the local processes' plus Ray's
start-up. Every backend must write the same weights: the script checks that
``policy.pth`` of every run is byte for byte the same across backends.

**grid**: ``rlnoise evaluate`` (the console command's code, called in this
process) of one trained quickstart PPO (``--train-steps``, seed 0) on a
64-condition grid (clean, 21 Gaussian observation noise levels, 21 random-
and 21 sticky-action levels) x ``--episodes`` episodes, into a fresh ``--out``
per backend: ``--workers 1`` (one process), ``--workers W`` (spawned
processes, their start-up included) and ``--backend ray`` on a Ray started
beforehand (``ray.init`` timed apart: the start-up). Target: ``--workers 2``
at least 1.6x faster than ``--workers 1`` on 2 cores. The script checks that
every backend wrote the same returns, and times the driver's serial part: the
report assembled from the cells alone, and the bootstrap of the summary
(``--bootstrap`` resamples).

Usage:
    python scripts/bench_scale.py [--part both] [--workers 2] [--repeats 1]
        [--seeds 8] [--steps 5000] [--episodes 100] [--train-steps 20000] [--json PATH]

Without Ray installed (``pip install "rlnoise[ray]"``) the Ray rows are skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import resource
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
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--part", choices=("sweep", "grid", "both"), default="both")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes/CPUs")
    parser.add_argument("--seeds", type=int, default=8, help="sweep: training seeds")
    parser.add_argument("--steps", type=int, default=5000, help="sweep: training steps per seed")
    parser.add_argument("--episodes", type=int, default=100, help="grid: episodes per condition")
    parser.add_argument("--train-steps", type=int, default=20000, help="grid: steps of its model")
    parser.add_argument("--bootstrap", type=int, default=10_000, help="grid: bootstrap resamples")
    parser.add_argument("--repeats", type=int, default=1, help="times each backend runs")
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file")
    return parser.parse_args()


def timed(work: Callable[[], Any]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def load() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def train(out: Path, backend: Backend, seeds: int, steps: int) -> tuple[float, list[Path]]:
    """Train the quickstart over ``seeds`` into ``out`` on ``backend``; wall time and run dirs."""
    overrides = [f"total_timesteps={steps}", f"seeds={list(range(seeds))}", f"output_dir={out}"]
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


def start_ray(ray: Any, workers: int) -> float:
    """``ray.init`` as ``--backend ray`` does it; returns its wall time (the start-up)."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    return timed(
        lambda: ray.init(
            address="local", num_cpus=workers, include_dashboard=False, logging_level=logging.ERROR
        )
    )


def bench_sweep(args: argparse.Namespace, ray: Any, tmp: Path) -> dict[str, Any]:
    walls: dict[str, list[float]] = {"sequential": [], "local": [], "ray": []}
    startups: list[float] = []
    shutdowns: list[float] = []
    reference: list[bytes] | None = None
    for repeat in range(args.repeats):
        plans: list[tuple[str, Backend]] = [
            ("sequential", Backend()),
            ("local", Backend(workers=args.workers)),
        ]
        if ray is not None:
            plans.append(("ray", Backend("ray")))
        for name, backend in plans:
            if name == "ray":
                startups.append(start_ray(ray, args.workers))
            wall, runs = train(tmp / f"{name}_{repeat}", backend, args.seeds, args.steps)
            if name == "ray":
                shutdowns.append(timed(ray.shutdown))
            walls[name].append(wall)
            print(f"sweep {name:>10}: {wall:6.1f} s wall ({len(runs)} runs)", flush=True)
            reference = reference or weights(runs)
            assert weights(runs) == reference, f"{name} wrote other weights"
    median = {name: statistics.median(w) for name, w in walls.items() if w}
    print(f"\nsweep: {args.seeds} seeds x {args.steps} steps, {args.workers} workers, median of "
          f"{args.repeats}; every backend wrote the same policy.pth for every seed; "
          f"load average (1, 5, 15 min) {load()} on {os.cpu_count()} cores")  # fmt: skip
    for name, wall in median.items():
        print(f"  {name:>10}: {wall:6.1f} s  ({median['sequential'] / wall:.2f}x sequential)")
    result: dict[str, Any] = {"walls": walls, "median": median, "load": load()}
    if ray is None:
        print('  ray: skipped (pip install "rlnoise[ray]")')
        return result
    startup, shutdown = statistics.median(startups), statistics.median(shutdowns)
    ratio = median["ray"] / median["local"]
    with_startup = (median["ray"] + startup) / median["local"]
    print(f"  ray start-up (ray.init): {startup:.1f} s; ray.shutdown: {shutdown:.1f} s")
    print(
        f"  ray / local: {ratio:.2f}x without start-up, {with_startup:.2f}x with it "
        f"(target: ray <= 1.3x local + start-up: {'met' if ratio <= 1.3 else 'not met'})"
    )
    result.update(ray_startup=startup, ray_shutdown=shutdown, ray_over_local=ratio)
    return result


#: The benchmark's 64 conditions (with the clean one the grid always holds).
LEVELS = [round(0.04 * i, 2) for i in range(1, 22)]  # 0.04 ... 0.84
GRID = {"gaussian": LEVELS, "random_action": LEVELS, "sticky_action": LEVELS}


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (spawned workers, once joined).

    Ray's workers are children of Ray's raylet, not of this process: not counted.
    """
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def evaluate(
    model: Path, grid: Path, out: Path, args: argparse.Namespace, *flags: str
) -> tuple[float, float]:
    """Run ``rlnoise evaluate`` here; returns its wall time and CPU time (with local workers)."""
    from rlnoise.cli import main as rlnoise_main

    argv = [
        "evaluate", "--model", str(model), "--env", "CartPole-v1", "--grid", str(grid),
        "--episodes", str(args.episodes), "--device", "cpu", "--out", str(out),
        "--bootstrap", str(args.bootstrap), "--no-progress", "--no-plots", *flags,
    ]  # fmt: skip
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        start, cpu = time.perf_counter(), cpu_seconds()
        code = rlnoise_main(argv)
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    assert code == 0, f"rlnoise {' '.join(argv)} failed"
    return wall, cpu


def serial_part(model: Path, grid: Path, out: Path, args: argparse.Namespace) -> dict[str, float]:
    """The driver's serial work on finished cells: assembly, then the summary's bootstrap."""
    from rlnoise.evaluation import evaluate_robustness

    report: list[Any] = []
    assemble = timed(
        lambda: report.append(
            evaluate_robustness(
                [model], "CartPole-v1", grid, args.episodes, device="cpu",
                resume_dir=out / "cells", cached_only=True, progress=False,
            )
        )
    )  # fmt: skip
    cpu = time.process_time()
    bootstrap = timed(lambda: report[0].summary(n_resamples=args.bootstrap))
    return {
        "assembly_s": assemble,
        "bootstrap_s": bootstrap,
        "bootstrap_cpu_s": time.process_time() - cpu,
    }


def bench_grid(args: argparse.Namespace, ray: Any, tmp: Path) -> dict[str, Any]:
    import json

    import yaml

    _, runs = train(tmp / "grid_model", Backend(), 1, args.train_steps)
    model = runs[0] / "model.zip"
    grid = tmp / "grid.yaml"
    grid.write_text(yaml.safe_dump(GRID))
    rows = {
        "workers 1": ["--workers", "1"],
        f"workers {args.workers}": ["--workers", str(args.workers)],
    }
    if ray is not None:
        rows["ray"] = ["--backend", "ray"]
    walls: dict[str, list[float]] = {name: [] for name in rows}
    cpus: dict[str, list[float]] = {name: [] for name in rows}
    startups: list[float] = []
    returns: dict[str, Any] = {}
    for repeat in range(args.repeats):
        for name, flags in rows.items():
            out = tmp / f"grid_{name.replace(' ', '')}_{repeat}"
            if name == "ray":
                startups.append(start_ray(ray, args.workers))
            wall, cpu = evaluate(model, grid, out, args, *flags)
            if name == "ray":
                ray.shutdown()
            walls[name].append(wall)
            cpus[name].append(cpu)
            data = json.loads((out / "report.json").read_text())
            returns.setdefault(name, data["returns"])
            assert data["returns"] == returns["workers 1"], f"{name} gave other returns"
            print(f"grid {name:>10}: {wall:6.1f} s wall, {cpu:6.1f} s CPU here (load {load()})")
    serial = serial_part(model, grid, tmp / "grid_workers1_0", args)
    median = {name: statistics.median(w) for name, w in walls.items()}
    one = walls["workers 1"]
    print(f"\ngrid: 64 conditions x {args.episodes} episodes, 1 model, median of {args.repeats}; "
          f"every backend gave the same returns; load average (1, 5, 15 min) {load()} on "
          f"{os.cpu_count()} cores")  # fmt: skip
    result: dict[str, Any] = {"walls": walls, "cpus": cpus, "median": median, "load": load()}
    result.update(serial)
    cpu_one = statistics.median(cpus["workers 1"])
    for name, wall in walls.items():
        speedup = statistics.median(a / b for a, b in zip(one, wall, strict=True))
        result[f"speedup {name}"] = speedup
        line = f"  {name:>10}: {median[name]:6.1f} s  ({speedup:.2f}x --workers 1, median)"
        if name.startswith("workers") and name != "workers 1":
            # On W idle cores the units' CPU time divides by W; the driver's serial part
            # (its plan and assembly, each about one assembly; the bootstrap) does not.
            cpu = statistics.median(cpus[name])
            serial_s = serial["assembly_s"] * 2 + serial["bootstrap_cpu_s"]
            workers = int(name.split()[1])
            idle = serial_s + max(cpu - serial_s, 0.0) / workers
            result[f"cpu {name}"] = cpu
            result[f"idle-machine speed-up {name}"] = cpu_one / idle
            line += (
                f"; CPU {cpu:.1f} s vs {cpu_one:.1f} s in one process: on {workers} idle "
                f"cores about {cpu_one / idle:.2f}x"
            )
        print(line)
    if startups:
        result["ray_startup"] = statistics.median(startups)
        print(f"  ray start-up (ray.init, not in the ray row): {result['ray_startup']:.1f} s")
    print(
        f"  driver's serial part on finished cells: assembly {serial['assembly_s']:.2f} s, "
        f"bootstrap of the summary ({args.bootstrap} resamples) {serial['bootstrap_s']:.2f} s "
        f"({serial['bootstrap_cpu_s']:.2f} s CPU)"
    )
    return result


def main() -> None:
    args = parse_args()
    import torch

    torch.set_num_threads(1)  # as `rlnoise train` and `rlnoise evaluate` (and their workers) do
    ray = ray_or_none()
    results: dict[str, Any] = {"cores": os.cpu_count(), "args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("grid", "both"):
            results["grid"] = bench_grid(args, ray, Path(tmp))
        if args.part in ("sweep", "both"):
            results["sweep"] = bench_sweep(args, ray, Path(tmp))
    if args.json:
        import json

        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
