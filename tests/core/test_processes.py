"""Stateful processes: OU autocorrelation, colored-noise spectrum, per-row state."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from rlnoise import NoiseSpec, NoiseStream
from rlnoise.core.processes import ColoredNoiseProcess, OUProcess, UnitBlock, powerlaw_noise
from rlnoise.core.random import RowRandom, TorchRowRandom

Z = 5.0


def _run(process, steps: int) -> np.ndarray:
    return np.stack([np.array(process.step(), copy=True) for _ in range(steps)])


@pytest.mark.parametrize("theta", [0.5, 2.0])
def test_ou_autocorrelation_matches_theta(theta: float) -> None:
    dt, rows, steps, burn_in = 0.1, 400, 1200, 200
    process = OUProcess((1,), theta, dt, RowRandom(np.random.default_rng(0), n_rows=rows))
    z = _run(process, steps)[burn_in:, :, 0]  # (T, rows)
    decay = 1.0 - theta * dt
    stationary_var = dt / (1.0 - decay**2)
    n = z.size
    assert abs(z.var() - stationary_var) < Z * stationary_var * math.sqrt(
        2.0 * (1 + decay**2) / (1 - decay**2) / n
    )
    for lag in (1, 5):
        rho = np.mean(z[lag:] * z[:-lag]) / np.mean(z * z)
        expected = decay**lag
        # Bartlett: var(rho_k) ~ [(1 + a^2)(1 - a^(2k)) / (1 - a^2) - 2k a^(2k)] / n for AR(1).
        a2 = decay**2
        bartlett = ((1 + a2) * (1 - a2**lag) / (1 - a2) - 2 * lag * a2**lag) / n
        assert abs(rho - expected) < Z * math.sqrt(bartlett) + 1e-12


def test_ou_reset_zeroes_only_selected_rows() -> None:
    process = OUProcess((2,), 1.0, 0.1, RowRandom(np.random.default_rng(0), n_rows=3))
    for _ in range(5):
        process.step()
    process.reset(rows=[1])
    assert np.all(process.state[1] == 0)
    assert np.all(process.state[[0, 2]] != 0)


@pytest.mark.parametrize("beta", [0.0, 1.0, 2.0])
def test_colored_spectrum_slope_is_minus_beta(beta: float) -> None:
    length, rows = 1024, 256
    normals = np.random.default_rng(4).standard_normal((2, length // 2 + 1, rows))
    x = powerlaw_noise(normals, beta, length)  # (length, rows)
    power = np.mean(np.abs(np.fft.rfft(x, axis=0)) ** 2, axis=1)
    freqs = np.fft.rfftfreq(length)
    keep = slice(1, length // 2)  # skip DC and Nyquist (set differently)
    log_f, log_p = np.log(freqs[keep]), np.log(power[keep])
    slope, _ = np.polyfit(log_f, log_p, 1)
    # Each averaged periodogram ordinate is Gamma(rows, 1/rows)-distributed: the SD of its log
    # is sqrt(trigamma(rows)) ~ 1/sqrt(rows); least-squares slope SE = that / sqrt(Sxx).
    se_slope = (1.0 / math.sqrt(rows)) / math.sqrt(np.sum((log_f - log_f.mean()) ** 2))
    assert abs(slope + beta) < Z * se_slope


@pytest.mark.parametrize("length", [256, 255])
@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_colored_has_unit_ensemble_variance(beta: float, length: int) -> None:
    rows = 2000
    process = ColoredNoiseProcess(
        (1,), beta, length, RowRandom(np.random.default_rng(5), n_rows=rows)
    )
    x = _run(process, length)[:, :, 0]
    # Per time step the rows are iid N(0, 1): var over rows has SE sqrt(2 / rows); average of
    # `length` correlated estimates is at least as precise as a single one.
    assert abs(x.var(axis=1).mean() - 1.0) < Z * math.sqrt(2.0 / rows)


def test_colored_regenerates_after_length_and_on_reset() -> None:
    process = ColoredNoiseProcess((3,), 1.0, 8, RowRandom(np.random.default_rng(0), n_rows=2))
    first = _run(process, 8)
    after = _run(process, 8)
    assert not np.allclose(first, after)
    # A reset mid-sequence starts row 0 over and leaves row 1's sequence alone.
    rngs = [np.random.default_rng(10), np.random.default_rng(11)]
    process = ColoredNoiseProcess((3,), 1.0, 8, RowRandom(rngs))
    _run(process, 3)
    untouched = copy.deepcopy(process)
    process.reset(rows=[0], rngs=None)
    got, expected = _run(process, 20), _run(untouched, 20)
    np.testing.assert_array_equal(got[:, 1], expected[:, 1])
    assert not np.any(np.isclose(got[:5, 0], expected[:5, 0]))  # not the old sequence's end


def test_per_row_colored_depends_only_on_the_rows_generator() -> None:
    def row_zero(n_rows: int) -> np.ndarray:
        rngs = [np.random.default_rng(100 + i) for i in range(n_rows)]
        process = ColoredNoiseProcess((2,), 1.0, 16, RowRandom(rngs))
        return _run(process, 40)[:, 0]

    np.testing.assert_array_equal(row_zero(1), row_zero(4))


def test_unit_block_values_do_not_depend_on_block_size() -> None:
    def stream(block: int) -> np.ndarray:
        source = RowRandom(np.random.default_rng(9), n_rows=3)
        return _run(UnitBlock("gaussian", (2,), source, np.float64, block_size=block), 50)

    np.testing.assert_array_equal(stream(7), stream(256))


def test_unit_block_reseeded_row_restarts_its_stream() -> None:
    rngs = [np.random.default_rng(i) for i in range(3)]
    block = UnitBlock("uniform", (2,), RowRandom(rngs), np.float64, block_size=16)
    _run(block, 5)
    block.reset(rows=[1], rngs=[np.random.default_rng(42)])
    got = _run(block, 30)[:, 1]
    expected = _run(
        UnitBlock("uniform", (2,), RowRandom([np.random.default_rng(42)]), np.float64), 30
    )[:, 0]
    np.testing.assert_array_equal(got, expected)


def test_torch_processes_run_on_the_generator_device() -> None:
    source = TorchRowRandom(torch.Generator().manual_seed(0), n_rows=4)
    ou = OUProcess((3,), 0.15, 0.01, source, torch.float32)
    colored = ColoredNoiseProcess((3,), 1.0, 32, source, torch.float32)
    for process in (ou, colored):
        out = process.step()
        assert isinstance(out, torch.Tensor) and out.shape == (4, 3) and out.dtype == torch.float32
        process.reset(rows=[2])
    assert torch.all(ou.state[2] == 0)


def test_torch_and_numpy_powerlaw_agree() -> None:
    normals = np.random.default_rng(0).standard_normal((2, 17, 3))
    expected = powerlaw_noise(normals, 1.0, 32)
    got = powerlaw_noise(torch.as_tensor(normals), 1.0, 32).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mean", [0.0, 1.5, -0.4])
def test_ou_matches_sb3_draw_for_draw_on_the_same_normals(monkeypatch, mean: float) -> None:
    # SB3's OrnsteinUhlenbeckActionNoise draws from the global np.random.normal: feed it the
    # standard normals the stream's own generator hands out (blocks of consecutive draws).
    from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise

    theta, dt, sigma, steps = 0.15, 0.05, 0.3, 300
    spec = NoiseSpec("ou", sigma, params={"theta": theta, "dt": dt, "mean": mean})
    stream = NoiseStream(spec, (2,), np.random.default_rng(0), block_size=steps)
    normals = iter(np.random.default_rng(0).standard_normal((steps, 2)))
    monkeypatch.setattr(np.random, "normal", lambda size: next(normals))
    sb3 = OrnsteinUhlenbeckActionNoise(
        np.full(2, mean), np.full(2, sigma), theta=theta, dt=dt, dtype=np.float64
    )
    ours, theirs = [], []
    for _ in range(2):  # two episodes: after a reset both start again from 0
        ours += [stream.sample() for _ in range(steps // 2)]
        theirs += [sb3() for _ in range(steps // 2)]
        stream.reset()
        sb3.reset()
    # Two float64 evaluations of one recursion (SB3: x' = x + theta (mu - x) dt + ...; here
    # sigma z + offset): a few ulps per step, forgotten at rate theta dt, so at most about
    # 4 eps / (theta dt) x max |x|.
    tolerance = 4 * np.finfo(np.float64).eps / (theta * dt) * max(1.0, np.abs(theirs).max())
    np.testing.assert_allclose(np.stack(ours), np.stack(theirs), rtol=0, atol=tolerance)
    if mean:  # the first draw is near 0 (relaxing toward the mean), not near the mean
        assert np.all(np.abs(ours[0]) < abs(mean) / 2)
