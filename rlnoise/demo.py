"""The built-in demonstration run by ``rlnoise demo`` / ``make demo``.

Until the experiment pipeline lands this shows the core at work: each noise
kind is drawn from an owned generator and its measured statistics are
printed next to what the spec promises.
"""

from __future__ import annotations

import numpy as np

from rlnoise.core.kinds import stationary_std
from rlnoise.core.random import make_rng
from rlnoise.core.spec import NoiseSpec
from rlnoise.core.stream import NoiseStream

__all__ = ["run_demo"]

DEMO_SPECS = (
    "gaussian:0.1",
    "uniform:0.1",
    "laplace:0.1",
    "ou:0.3,theta=0.15,dt=0.01",
    "colored:0.1,beta=1",
)


def run_demo(steps: int = 20_000, seed: int = 0) -> int:
    """Inject each demo noise into a zero signal and print measured vs expected std."""
    print(f"{'spec':<28} {'expected std':>12} {'measured std':>12} {'lag-1 autocorr':>15}")
    for text in DEMO_SPECS:
        spec = NoiseSpec.parse(text)
        stream = NoiseStream(spec, (8,), make_rng(seed))
        draws = np.stack([stream.perturb(np.zeros(8)) for _ in range(steps)])
        expected = float(spec.scale_array()) * stationary_std(spec.kind, spec.param_dict)
        lag1 = float(np.mean([np.corrcoef(draws[:-1, i], draws[1:, i])[0, 1] for i in range(8)]))
        print(f"{text:<28} {expected:>12.4f} {draws.std():>12.4f} {lag1:>15.3f}")
    return 0
