"""Benchmark: drawing noise through the noise-spec core vs the bare generator call.

Side by side in one run, interleaved, repeated; prints median ratios (lower is better):
  * a (16, 4) float32 gaussian block through ``NoiseStream.sample()`` and through the
    one-shot ``rlnoise.core.sampling.sample`` vs ``rng.standard_normal((16, 4), dtype=float32)``
    (target: at most 1.5x);
  * 1M float32 gaussian values through ``sample`` on torch vs ``torch.randn`` (target: 1.2x).

Usage:
    python scripts/bench_core.py [--repeats 15] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable

import numpy as np
import torch

from rlnoise import NoiseSpec, NoiseStream
from rlnoise.core.sampling import sample


def per_call(fn: Callable[[], object], number: int) -> float:
    return timeit.timeit(fn, number=number) / number


def compare(
    name: str,
    baseline: Callable[[], object],
    candidates: dict[str, Callable[[], object]],
    number: int,
    repeats: int,
    target: float,
) -> None:
    times: dict[str, list[float]] = {"baseline": [], **{k: [] for k in candidates}}
    for _ in range(repeats):  # interleave so machine noise hits every variant alike
        times["baseline"].append(per_call(baseline, number))
        for key, fn in candidates.items():
            times[key].append(per_call(fn, number))
    base = statistics.median(times["baseline"])
    print(f"\n{name}: baseline {base * 1e6:.2f} us/call (median of {repeats})")
    for key in candidates:
        ratios = [c / b for c, b in zip(times[key], times["baseline"], strict=True)]
        ratio = statistics.median(ratios)
        verdict = "met" if ratio <= target else "NOT met"
        print(
            f"  {key:<34} {statistics.median(times[key]) * 1e6:9.2f} us/call"
            f"   ratio {ratio:5.2f}x  (target <= {target}x: {verdict})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)

    spec = NoiseSpec.parse("gaussian:0.1")
    rng_bare, rng_stream, rng_once, rng_floor = (np.random.default_rng(s) for s in range(4))
    stream = NoiseStream(spec, (4,), rng_stream, n_rows=16, dtype=np.float32)

    def draw_and_scale() -> np.ndarray:
        # The floor of any one-shot scaled draw: the bare call plus one in-place multiply.
        unit = rng_floor.standard_normal((16, 4), dtype=np.float32)
        unit *= 0.1
        return unit

    compare(
        "(16, 4) float32 gaussian block, numpy",
        lambda: rng_bare.standard_normal((16, 4), dtype=np.float32),
        {
            "NoiseStream.sample()": stream.sample,
            "standard_normal + in-place *= scale": draw_and_scale,
            "sampling.sample(spec, rng, shape)": lambda: sample(
                spec, rng_once, (16, 4), dtype=np.float32
            ),
        },
        number=20_000,
        repeats=args.repeats,
        target=1.5,
    )

    device = torch.device(args.device)
    g_bare = torch.Generator(device=device).manual_seed(0)
    g_spec = torch.Generator(device=device).manual_seed(1)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    def bare() -> None:
        torch.randn(1_000_000, generator=g_bare, device=device)
        sync()

    def through_spec() -> None:
        sample(spec, g_spec, (1_000_000,), device=device)
        sync()

    compare(
        f"1M float32 gaussian values, torch on {device}",
        bare,
        {"sampling.sample(spec, generator, shape)": through_spec},
        number=20,
        repeats=args.repeats,
        target=1.2,
    )


if __name__ == "__main__":
    main()
