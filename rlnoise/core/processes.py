"""Unit-noise processes with per-row state: Ornstein-Uhlenbeck and colored (1/f^beta) noise.

They share one interface with :class:`~rlnoise.core.blocks.UnitBlock` (white
noise) — ``step()`` advances and returns the next unit draw of the full batch
shape, ``reset(rows)`` restarts the state of some rows (optionally with new
generators) — and add one public operation, ``peek(rows, fresh)``: the value
those rows would see at the next step, with ``fresh`` standard normals standing
in for the randomness not drawn yet, without advancing anything (the noise of a
vector env's final observation is the draw its episode would have seen next).
They work on numpy arrays (from a :class:`~rlnoise.core.random.RowRandom`) or
torch tensors (from a :class:`~rlnoise.core.random.TorchRowRandom`). Values are
unscaled: the stream multiplies them by the spec's scale.

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

from rlnoise.core.blocks import Source, UnitBlock, check_rows, full_shape
from rlnoise.core.random import TorchRowRandom

__all__ = ["ColoredNoiseProcess", "OUProcess", "UnitBlock", "make_process", "powerlaw_noise"]


class OUProcess:
    """Batched unit Ornstein-Uhlenbeck process ``z' = (1 - theta dt) z + sqrt(dt) eps``.

    The noise is ``scale * z + offset``, where the offset relaxes from 0 toward
    ``mean`` as SB3's process does, ``offset' = offset + theta (mean - offset) dt``:
    with a constant scale this is exactly SB3's ``OrnsteinUhlenbeckActionNoise``
    (``sigma = scale``, ``initial_noise`` 0) on the same standard normals. Both
    state and offset start (and reset) at zero.

    Args:
        row_shape: Shape of one row.
        theta: Mean-reversion rate.
        dt: Time step.
        source: Where the Gaussian increments come from.
        dtype: Array dtype.
        block_size: Increments drawn per refill.
        mean: The level the noise relaxes to (0: no offset is kept).
    """

    def __init__(
        self,
        row_shape: tuple[int, ...],
        theta: float,
        dt: float,
        source: Source,
        dtype: Any = np.float64,
        block_size: int = 256,
        mean: float = 0.0,
    ):
        self.theta, self.dt, self.mean = float(theta), float(dt), float(mean)
        self.decay = 1.0 - theta * dt
        self.diffusion = math.sqrt(dt)
        self.increments = UnitBlock("gaussian", row_shape, source, dtype, block_size)
        self.shape = self.increments.shape
        self.state = _zeros(source, self.shape, dtype)
        # Output units (not scaled): None while mean is 0, so the common case pays nothing.
        self.offset: Any = _zeros(source, self.shape, dtype) if self.mean else None

    def step(self) -> Any:
        """Advance one step and return the state (do not modify it)."""
        state = self.state * self.decay
        state += self.diffusion * self.increments.step()
        self.state = state
        if self.offset is not None:
            self.offset = self._next_offset(self.offset)
        return state

    def _next_offset(self, offset: Any) -> Any:
        return offset + self.theta * (self.mean - offset) * self.dt

    def peek(self, rows: Any, fresh: Any) -> Any:
        """The unit state of ``rows`` (``None``: all) one step on, with increments ``fresh``."""
        state = self.state if rows is None else self.state[rows]
        return state * self.decay + self.diffusion * fresh

    def peek_offset(self, rows: Any) -> Any:
        """The offset of ``rows`` after one more step (``None`` when ``mean`` is 0)."""
        if self.offset is None:
            return None
        return self._next_offset(self.offset if rows is None else self.offset[rows])

    def reset(self, rows: Sequence[int] | None = None, rngs: Any = None) -> None:
        """Zero the state of ``rows`` (all when ``None``), reseeding them with ``rngs`` if given."""
        self.increments.reset(rows, rngs)
        if rows is None:
            self.state = self.state * 0
            if self.offset is not None:
                self.offset = self.offset * 0
        else:
            self.state[list(rows)] = 0
            if self.offset is not None:
                self.offset[list(rows)] = 0


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
        self.shape = full_shape(source, self.row_shape)
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

    def peek(self, rows: Any, fresh: Any) -> Any:
        """The unit draw of ``rows`` (``None``: all) at the next step: the rest of their
        sequence, or ``fresh`` where a row's sequence is used up (a new one would start)."""
        current = self._buffer[self._pos % self.length]
        if self.source.n_rows is None:
            return current if self._expires[0] > self._pos else fresh
        if rows is None:
            rows = slice(None)
        live = self._expires[rows] > self._pos
        current = current[rows]
        if isinstance(current, torch.Tensor):
            mask: Any = torch.as_tensor(live, device=current.device)
            return torch.where(mask.reshape(-1, *([1] * len(self.row_shape))), current, fresh)
        return np.where(live.reshape(-1, *([1] * len(self.row_shape))), current, fresh)

    def reset(self, rows: Sequence[int] | None = None, rngs: Any = None) -> None:
        """Start fresh sequences for ``rows`` (all when ``None``), reseeding them with ``rngs``."""
        check_rows(self.source, rows)
        if rngs is not None:
            self.source.reseed(rows, rngs)
        self._generate(rows)


def make_process(
    kind: str,
    params: dict[str, Any],
    row_shape: tuple[int, ...],
    source: Source,
    dtype: Any,
    block_size: int = 256,
) -> UnitBlock | OUProcess | ColoredNoiseProcess:
    """The unit process of ``kind``: OU, colored, or white noise in blocks for the others."""
    if kind == "ou":
        return OUProcess(
            row_shape, params["theta"], params["dt"], source, dtype, block_size, params["mean"]
        )
    if kind == "colored":
        return ColoredNoiseProcess(row_shape, params["beta"], params["length"], source, dtype)
    return UnitBlock(kind, row_shape, source, dtype, block_size)


def _zeros(source: Source, shape: tuple[int, ...], dtype: Any) -> Any:
    if isinstance(source, TorchRowRandom):
        return torch.zeros(shape, dtype=dtype, device=source.device)
    return np.zeros(shape, dtype=dtype)
