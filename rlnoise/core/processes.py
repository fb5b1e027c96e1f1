"""Unit-noise processes with per-row state: blocks of white noise, OU and colored noise.

All three share one interface — ``step()`` returns the next unit draw of the
full batch shape, ``reset(rows)`` restarts the state of some rows (optionally
with new generators) — and work on numpy arrays (from a
:class:`~rlnoise.core.random.RowRandom`) or torch tensors (from a
:class:`~rlnoise.core.random.TorchRowRandom`). Values are unscaled: the
injector multiplies them by the spec's scale.

Example:
    >>> from rlnoise.core.random import RowRandom, make_rng
    >>> ou = OUProcess((2,), theta=0.15, dt=0.01, source=RowRandom(make_rng(0), n_rows=3))
    >>> ou.step().shape
    (3, 2)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlnoise.core.random import RowRandom, TorchRowRandom

__all__ = ["ColoredNoiseProcess", "OUProcess", "UnitBlock", "powerlaw_noise"]

Source = RowRandom | TorchRowRandom


def _full_shape(source: Source, row_shape: tuple[int, ...]) -> tuple[int, ...]:
    return row_shape if source.n_rows is None else (source.n_rows, *row_shape)


def _check_rows(source: Source, rows: Sequence[int] | None) -> None:
    if rows is not None and source.n_rows is None:
        raise ValueError("rows can only be given for a batched source (n_rows set)")


class UnitBlock:
    """White unit noise drawn ``block_size`` steps at a time and handed out step by step.

    Drawing in blocks removes the per-call overhead of the generator; each
    row's values are still the consecutive stream of its own generator, so a
    row reseeded at step ``p`` sees exactly what a fresh generator gives.

    Args:
        kind: Kind whose unit distribution is drawn.
        row_shape: Shape of one row (the whole draw when unbatched).
        source: Where draws come from.
        dtype: Array dtype (numpy or torch).
        block_size: Steps drawn per refill.
    """

    def __init__(
        self,
        kind: str,
        row_shape: tuple[int, ...],
        source: Source,
        dtype: Any,
        block_size: int = 256,
    ):
        self.kind = kind
        self.row_shape = tuple(row_shape)
        self.source = source
        self.dtype = dtype
        self.block_size = int(block_size)
        self.shape = _full_shape(source, self.row_shape)
        self.multiplier: Any = None
        self._pos = 0
        self._refill()

    def _refill(self) -> None:
        self._block = self.source.unit(
            self.kind, self.row_shape, self.dtype, lead=(self.block_size,)
        )
        self._pos = 0
        self._rescale()

    def _rescale(self) -> None:
        # A scaled copy of the block: one multiply per block instead of one per step.
        self._scaled = self._block if self.multiplier is None else self._block * self.multiplier

    def set_multiplier(self, multiplier: Any) -> None:
        """Scale every draw handed out from now on by ``multiplier`` (``None``: unscaled)."""
        self.multiplier = multiplier
        self._rescale()

    def step(self) -> Any:
        """The next draw (times the multiplier), shape ``(n_rows, *row_shape)``.

        The result is a view into the block: do not modify it.
        """
        if self._pos == self.block_size:
            self._refill()
        out = self._scaled[self._pos]
        self._pos += 1
        return out

    def reset(self, rows: Sequence[int] | None = None, rngs: Any = None) -> None:
        """Reseed ``rows`` (all when ``None``) with ``rngs``; without ``rngs`` nothing changes.

        White noise has no state, so a reset only matters when a new generator
        is given: the rest of the block is redrawn from it.
        """
        _check_rows(self.source, rows)
        if rngs is None:
            return
        self.source.reseed(rows, rngs)
        if rows is None or not self.source.per_row:
            self._refill()
            return
        remaining = self.block_size - self._pos
        if remaining:
            fresh = self.source.unit(
                self.kind, self.row_shape, self.dtype, lead=(remaining,), rows=rows
            )
            self._block[self._pos :, list(rows)] = fresh  # type: ignore[assignment]
            self._rescale()


class OUProcess:
    """Batched unit Ornstein-Uhlenbeck process ``z' = (1 - theta dt) z + sqrt(dt) eps``.

    With noise ``mean + scale * z`` this is SB3's ``OrnsteinUhlenbeckActionNoise``
    with ``sigma = scale``. The state starts (and resets) at zero.

    Args:
        row_shape: Shape of one row.
        theta: Mean-reversion rate.
        dt: Time step.
        source: Where the Gaussian increments come from.
        dtype: Array dtype.
        block_size: Increments drawn per refill.
    """

    def __init__(
        self,
        row_shape: tuple[int, ...],
        theta: float,
        dt: float,
        source: Source,
        dtype: Any = np.float64,
        block_size: int = 256,
    ):
        self.decay = 1.0 - theta * dt
        self.diffusion = math.sqrt(dt)
        self.increments = UnitBlock("gaussian", row_shape, source, dtype, block_size)
        self.shape = self.increments.shape
        self.state = _zeros(source, self.shape, dtype)

    def step(self) -> Any:
        """Advance one step and return the state (do not modify it)."""
        state = self.state * self.decay
        state += self.diffusion * self.increments.step()
        self.state = state
        return state

    def reset(self, rows: Sequence[int] | None = None, rngs: Any = None) -> None:
        """Zero the state of ``rows`` (all when ``None``), reseeding them with ``rngs`` if given."""
        self.increments.reset(rows, rngs)
        if rows is None:
            self.state = self.state * 0
        else:
            self.state[list(rows)] = 0


def powerlaw_noise(normals: Any, beta: float, length: int) -> Any:
    """Unit-variance Gaussian noise with power spectrum ``S(f) ~ 1/f^beta`` along axis 0.

    Timmer & König (1995): Gaussian Fourier coefficients with amplitude
    ``f^(-beta/2)`` (frequencies below ``1/length`` clamped), inverse real FFT,
    then divided by the expected standard deviation.

    Args:
        normals: Standard normals of shape ``(2, length // 2 + 1, *rest)`` (real
            and imaginary parts), numpy or torch.
        beta: Spectral exponent (0 white, 1 pink, 2 red/Brownian).
        length: Number of time steps.

    Returns:
        Array of shape ``(length, *rest)``.
    """
    is_torch = isinstance(normals, torch.Tensor)
    n_freq = length // 2 + 1
    freqs = np.maximum(np.fft.rfftfreq(length), 1.0 / length)
    amplitude = freqs ** (-beta / 2.0)
    # Exact variance of the inverse transform below: the DC term (and the Nyquist
    # term for even lengths) is real with variance 2 a^2 and counts once; every
    # other frequency appears twice (positive and negative) with variance a^2 each.
    power = 4.0 * float(np.sum(amplitude[1:] ** 2)) + 2.0 * amplitude[0] ** 2
    if length % 2 == 0:
        power -= 2.0 * amplitude[-1] ** 2
    sigma = math.sqrt(power) / length
    extra = (1,) * (normals.ndim - 2)
    amp = amplitude.reshape(n_freq, *extra)
    real = normals[0] * (
        torch.as_tensor(amp, dtype=normals.dtype, device=normals.device) if is_torch else amp
    )
    imag = normals[1] * (
        torch.as_tensor(amp, dtype=normals.dtype, device=normals.device) if is_torch else amp
    )
    # The DC term (and the Nyquist term for even lengths) must be real.
    imag[0] = 0
    real[0] = real[0] * math.sqrt(2.0)
    if length % 2 == 0:
        imag[-1] = 0
        real[-1] = real[-1] * math.sqrt(2.0)
    if is_torch:
        return torch.fft.irfft(torch.complex(real, imag), n=length, dim=0) / sigma
    out = np.fft.irfft(real + 1j * imag, n=length, axis=0) / sigma
    return out.astype(normals.dtype, copy=False)


class ColoredNoiseProcess:
    """Batched unit-variance 1/f^beta noise, generated ``length`` steps at a time per row.

    Each row holds a sequence of ``length`` steps drawn when the row starts (or
    is reset); when it is used up, a new independent sequence is drawn (the
    correlation does not carry over the boundary, as in pink-noise-rl).

    Args:
        row_shape: Shape of one row.
        beta: Spectral exponent (1 pink, 2 red).
        length: Sequence length; the lowest frequency represented is ``1/length``.
        source: Where the Fourier coefficients come from.
        dtype: Array dtype.
    """

    def __init__(
        self,
        row_shape: tuple[int, ...],
        beta: float,
        length: int,
        source: Source,
        dtype: Any = np.float64,
    ):
        self.row_shape = tuple(row_shape)
        self.beta = float(beta)
        self.length = int(length)
        self.source = source
        self.dtype = dtype
        self.shape = _full_shape(source, self.row_shape)
        # Buffer indexed by global step modulo length, so a step is one contiguous slice
        # even when rows started at different steps.
        self._buffer = _zeros(source, (self.length, *self.shape), dtype)
        n = 1 if source.n_rows is None else source.n_rows
        self._expires = np.zeros(n, dtype=np.int64)
        self._next_expiry = 0
        self._pos = 0
        self._generate(None)

    def _generate(self, rows: Sequence[int] | None) -> None:
        n_freq = self.length // 2 + 1
        normals = self.source.unit(
            "gaussian", self.row_shape, self.dtype, lead=(2, n_freq), rows=rows
        )
        sequence = powerlaw_noise(normals, self.beta, self.length)
        slots = (self._pos + np.arange(self.length)) % self.length
        if isinstance(sequence, torch.Tensor):
            slots_index: Any = torch.as_tensor(slots, device=sequence.device)
        else:
            slots_index = slots
        if rows is None or self.source.n_rows is None:
            self._buffer[slots_index] = sequence
            self._expires[:] = self._pos + self.length
        else:
            for j, row in enumerate(rows):
                self._buffer[slots_index, row] = sequence[:, j]
            self._expires[list(rows)] = self._pos + self.length
        self._next_expiry = int(self._expires.min())

    def step(self) -> Any:
        """The next unit draw of shape ``(n_rows, *row_shape)`` (a view: do not modify)."""
        if self._pos >= self._next_expiry:
            expired = np.flatnonzero(self._expires <= self._pos)
            batched = self.source.n_rows is not None and expired.size < self._expires.size
            self._generate(expired.tolist() if batched else None)
        out = self._buffer[self._pos % self.length]
        self._pos += 1
        return out

    def reset(self, rows: Sequence[int] | None = None, rngs: Any = None) -> None:
        """Start fresh sequences for ``rows`` (all when ``None``), reseeding them with ``rngs``."""
        _check_rows(self.source, rows)
        if rngs is not None:
            self.source.reseed(rows, rngs)
        self._generate(rows)


def _zeros(source: Source, shape: tuple[int, ...], dtype: Any) -> Any:
    if isinstance(source, TorchRowRandom):
        return torch.zeros(shape, dtype=dtype, device=source.device)
    return np.zeros(shape, dtype=dtype)
