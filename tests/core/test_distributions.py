"""Sampled noise matches its distribution; tolerances are derived standard errors.

Each check allows Z = 5 standard errors of the estimator, so a correct sampler
fails with probability below 1e-6 per check (and the seeds are pinned anyway).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rlnoise import NoiseSpec
from rlnoise.core.sampling import perturb, sample

Z = 5.0
N = 200_000

# kind -> (std of scale-1 noise, excess kurtosis, quantile function of scale-1 noise)
CONTINUOUS = {
    "gaussian": (1.0, 0.0, None),
    "uniform": (1.0 / math.sqrt(3.0), -1.2, lambda q: 2 * q - 1),
    "laplace": (
        math.sqrt(2.0),
        3.0,
        lambda q: math.log(2 * q) if q < 0.5 else -math.log(2 - 2 * q),
    ),
}
DENSITY = {
    "uniform": lambda x: 0.5,
    "laplace": lambda x: 0.5 * math.exp(-abs(x)),
}


def _draw(kind: str, backend: str, scale: float) -> np.ndarray:
    spec = NoiseSpec(kind, scale)
    if backend == "numpy":
        return sample(spec, np.random.default_rng(1), (N,))
    generator = torch.Generator().manual_seed(1)
    return sample(spec, generator, (N,), dtype=torch.float64).numpy()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("kind", sorted(CONTINUOUS))
def test_mean_std_and_quantiles(kind: str, backend: str) -> None:
    scale = 0.3
    std_unit, excess_kurtosis, quantile = CONTINUOUS[kind]
    sigma = scale * std_unit
    x = _draw(kind, backend, scale)
    assert abs(x.mean()) < Z * sigma / math.sqrt(N)
    # SE of the sample std: sigma * sqrt((kurtosis - 1) / (4 N)), kurtosis = excess + 3.
    se_std = sigma * math.sqrt((excess_kurtosis + 2.0) / (4.0 * N))
    assert abs(x.std() - sigma) < Z * se_std
    if quantile is not None:
        for q in (0.1, 0.25, 0.75, 0.9):
            expected = scale * quantile(q)
            # SE of an empirical quantile: sqrt(q (1 - q) / N) / density at the quantile.
            density = DENSITY[kind](quantile(q)) / scale
            se_q = math.sqrt(q * (1 - q) / N) / density
            assert abs(np.quantile(x, q) - expected) < Z * se_q


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_uniform_and_laplace_support(backend: str) -> None:
    assert np.abs(_draw("uniform", backend, 0.3)).max() <= 0.3
    assert np.isfinite(_draw("laplace", backend, 0.3)).all()


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_dropout_rate_and_rescale(backend: str) -> None:
    p = 0.3
    x = np.ones(N)
    rng = np.random.default_rng(2) if backend == "numpy" else torch.Generator().manual_seed(2)
    values = torch.ones(N, dtype=torch.float64) if backend == "torch" else x
    out = perturb(NoiseSpec("dropout", p, params={"rescale": True}), values, rng)
    out = np.asarray(out)
    dropped = np.mean(out == 0)
    assert abs(dropped - p) < Z * math.sqrt(p * (1 - p) / N)
    np.testing.assert_allclose(np.unique(out), [0.0, 1.0 / (1 - p)])


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_salt_pepper_rates_and_values(backend: str) -> None:
    p, ratio = 0.2, 0.25
    spec = NoiseSpec("salt_pepper", p, params={"salt_ratio": ratio})
    rng = np.random.default_rng(3) if backend == "numpy" else torch.Generator().manual_seed(3)
    x = np.full(N, 0.5) if backend == "numpy" else torch.full((N,), 0.5, dtype=torch.float64)
    out = np.asarray(perturb(spec, x, rng, low=-1.0, high=2.0))
    assert set(np.unique(out)) == {-1.0, 0.5, 2.0}
    for value, rate in ((2.0, p * ratio), (-1.0, p * (1 - ratio))):
        assert abs(np.mean(out == value) - rate) < Z * math.sqrt(rate * (1 - rate) / N)
