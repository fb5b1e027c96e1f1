"""``NoiseStream``: the engine that turns a spec into draws, for one shape and owned generator(s).

This is the object injectors hold. It draws in blocks (one generator call per
``block_size`` steps, :class:`~rlnoise.core.blocks.UnitBlock`), keeps the
state of the stateful kinds per row (:mod:`rlnoise.core.processes`), applies
the schedule at its step count ``t``, and combines noise with clean values in
the spec's mode (:class:`~rlnoise.core.combine.Combiner`), clipping where the
spec asks. The same object serves numpy (``np.random.Generator``, or one per
row) and torch (``torch.Generator``, or one per row).

What an injector can ask of it:

- :meth:`NoiseStream.perturb` — the next draw combined with a value;
- :meth:`NoiseStream.sample` / :attr:`NoiseStream.sampler` — the next scaled
  draw (``sampler`` is the fastest callable for it: with white noise at a
  constant scale, the block's own hand-out of prescaled rows);
- :meth:`NoiseStream.draw` — the next draw and the factor still to apply, for
  :class:`~rlnoise.core.combine.Combiner` (unit draws with their scale when
  built with ``unit_draws=True``, so that torch fuses the multiply);
- :meth:`NoiseStream.peek` — what some rows would draw next, without advancing;
- :meth:`NoiseStream.reset` — restart (and optionally reseed) rows.

Example:
    >>> import numpy as np
    >>> from rlnoise import NoiseSpec
    >>> stream = NoiseStream("gaussian:0.1", (4,), np.random.default_rng(0), dtype=np.float32)
    >>> stream.perturb(np.zeros(4, np.float32)).dtype
    dtype('float32')
    >>> batch = NoiseStream("ou:0.2", (3,), [np.random.default_rng(s) for s in range(8)])
    >>> batch.sample().shape  # 8 rows, one independent generator each
    (8, 3)
    >>> batch.reset([2], [np.random.default_rng(99)])  # row 2 starts a new, reseeded episode

    Batches of torch rows work alike: row ``i`` draws exactly what a stream over
    its generator alone draws, whatever else is in the batch.

    >>> import torch
    >>> rows = [torch.Generator().manual_seed(s) for s in range(4)]
    >>> lanes = NoiseStream("gaussian:0.1", (5,), rows, block_size=1, unit_draws=True)
    >>> unit, scale = lanes.draw()  # per-episode draws: unit noise and its scale
    >>> unit.shape, scale
    (torch.Size([4, 5]), 0.1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlnoise.core.blocks import UnitBlock
from rlnoise.core.combine import Combiner
from rlnoise.core.processes import make_process
from rlnoise.core.random import RowRandom, TorchRowRandom
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec

__all__ = ["NoiseStream"]


def _is_float(x: Any) -> bool:
    if isinstance(x, torch.Tensor):
        return x.is_floating_point()
    return bool(np.issubdtype(x.dtype, np.floating))


class NoiseStream:
    """Repeated draws of one noise source for values of a fixed shape.

    Args:
        spec: The noise (spec, dict or compact string).
        shape: Shape of one value (one row when batched).
        rng: A ``np.random.Generator`` or ``torch.Generator`` (joint draws), a
            list of either, one per row (independent rows), or a prepared
            :class:`~rlnoise.core.random.RowRandom` / ``TorchRowRandom``.
        n_rows: Batch size when ``rng`` is a single generator; ``None`` for
            unbatched draws of shape ``shape``.
        dtype: Float dtype of the draws (numpy, or torch for a torch generator).
        low: Lower bounds of the noised values (the space's), used by
            ``relative_to="range"``, ``clip="space"`` and ``salt_pepper``.
        high: Upper bounds, as ``low``.
        scale: Overrides the spec's scale (e.g. per-row scales of shape
            ``(n_rows, 1)``); must broadcast to the batch shape.
        block_size: Steps of white noise drawn per generator call.
        unit_draws: :meth:`draw` hands out white noise unscaled, with its scale,
            so that the combination fuses the multiply (never prescaled).

    Attributes:
        t: Step count fed to the schedule. Each :meth:`sample` advances it by
            one until :meth:`set_step` hands it to an outside clock.
        reference_std: Running standard deviation used when
            ``relative_to="std"`` (set by the owner; 1 until then).
    """

    def __init__(
        self,
        spec: NoiseSpecLike,
        shape: Sequence[int],
        rng: Any,
        *,
        n_rows: int | None = None,
        dtype: Any = None,
        low: Any = None,
        high: Any = None,
        scale: Any = None,
        block_size: int = 256,
        unit_draws: bool = False,
    ):
        self.spec: NoiseSpec = as_noise_spec(spec)
        self.row_shape = tuple(int(d) for d in shape)
        self.source: RowRandom | TorchRowRandom = _source(rng, n_rows)
        if isinstance(self.source, TorchRowRandom):
            self.dtype = torch.float32 if dtype is None else dtype
            self._xp: Any = torch
        else:
            self.dtype = np.dtype(np.float64 if dtype is None else dtype)
            self._xp = np
        self.n_rows = self.source.n_rows
        self.shape = self.row_shape if self.n_rows is None else (self.n_rows, *self.row_shape)
        info = self.spec.info
        self._kind, self._mode = self.spec.kind, str(self.spec.mode)
        self._params = self.spec.param_dict
        self._is_mask = info.scale_is_probability
        self._low, self._high = self._bounds(low, high)
        self._impulse = (
            (None, None)
            if self._low is None
            else (self._as_array(self._low), self._as_array(self._high))
        )
        self._clip = self._clip_bounds()
        self._schedule = self.spec.schedule
        self._scheduled = not self._schedule.is_constant
        self.t = 0
        self.auto_step = True
        self.reference_std: Any = 1.0
        self.stateful = info.stateful
        self.unit_draws = bool(unit_draws)
        self.process = make_process(
            self._kind, self._params, self.row_shape, self.source, self.dtype, block_size
        )
        self._offset = getattr(self.process, "offset", None) is not None  # OU with a mean
        self.combiner = Combiner(
            self.spec,
            low=self._impulse[0],
            high=self._impulse[1],
            clip=self._clip,
            keep_nonfinite=True,
        )
        self._base_override = scale
        self._update_base()

    # -- set-up -----------------------------------------------------------------
    def _bounds(self, low: Any, high: Any) -> tuple[Any, Any]:
        if (low is None) != (high is None):
            raise ValueError("low and high must be given together")
        if low is None:
            return None, None
        low_a = np.broadcast_to(np.asarray(low, dtype=np.float64), self.row_shape)
        high_a = np.broadcast_to(np.asarray(high, dtype=np.float64), self.row_shape)
        return low_a, high_a

    def _clip_bounds(self) -> tuple[Any, Any] | None:
        clip = self.spec.clip
        if clip is None:
            return None
        if clip == "space":
            if self._low is None:
                raise ValueError("clip='space' needs the bounds of the noised space (low/high)")
            low, high = self._low, self._high
        else:
            low, high = clip  # type: ignore[str-unpack]
        return self._as_array(low), self._as_array(high)

    def _as_array(self, value: Any) -> Any:
        if self._xp is torch:
            device = getattr(self.source, "device", None)
            return torch.as_tensor(np.array(value), dtype=self.dtype, device=device)
        return np.asarray(value, dtype=self.dtype)  # type: ignore[arg-type]

    def _update_base(self) -> None:
        if self._base_override is None:
            base = self.spec.scale_array(self.row_shape)
        else:
            base = np.asarray(self._base_override, dtype=np.float64)
            try:
                if np.broadcast_shapes(base.shape, self.shape) != self.shape:
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"scale of shape {base.shape} does not broadcast to {self.shape}"
                ) from None
            if not np.all(np.isfinite(base)) or np.any(base < 0):
                raise ValueError(f"scale must be finite and >= 0, got {base}")
        if self.spec.relative_to == "range":
            if self._low is None:
                raise ValueError(
                    "relative_to='range' needs the bounds of the noised space (low/high)"
                )
            width = self._high - self._low
            if not np.all(np.isfinite(width)):
                bad = np.flatnonzero(~np.isfinite(width.reshape(-1))).tolist()
                raise ValueError(
                    f"relative_to='range' needs finite bounds; dimensions {bad} are unbounded"
                )
            base = base * width
        elif self.spec.relative_to == "std":
            base = base * np.asarray(self.reference_std, dtype=np.float64)
        if self._schedule.is_constant:
            base = base * self._schedule(0)  # e.g. {type: constant, value: 0.5}
        # Scalars stay Python floats: cheaper per step, and comparisons stay scalar.
        self._base = float(base) if base.ndim == 0 else self._as_array(base)
        # White noise of a constant schedule is scaled once per block, not once per step.
        self._prescaled = (
            isinstance(self.process, UnitBlock)
            and not self._is_mask
            and not self._scheduled
            and not self.unit_draws
        )
        if isinstance(self.process, UnitBlock):
            self.process.set_multiplier(self._base if self._prescaled else None)

    def __getstate__(self) -> dict[str, Any]:
        # Modules do not pickle; the array namespace is restored from the source's type.
        state = self.__dict__.copy()
        state.pop("_xp")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._xp = torch if isinstance(self.source, TorchRowRandom) else np

    def set_scale(self, scale: Any) -> None:
        """Replace the base scale (e.g. by an adaptive controller); ``None`` restores the spec's."""
        self._base_override = scale
        self._update_base()

    def set_reference_std(self, std: Any) -> None:
        """Set the running std that ``relative_to="std"`` scales by."""
        self.reference_std = std
        self._update_base()

    def set_step(self, t: int) -> None:
        """Set the schedule's step count from an outside clock (and stop counting locally)."""
        self.t = int(t)
        self.auto_step = False

    @property
    def scale(self) -> Any:
        """The effective scale at the current step (base x schedule(t))."""
        return self._base * self._schedule(self.t) if self._scheduled else self._base

    # -- drawing -----------------------------------------------------------------
    def sample(self) -> Any:
        """Next noise of shape ``self.shape``.

        Scaled values for the continuous kinds; uniform [0, 1) draws for the mask kinds.
        """
        unit = self.process.step()
        t = self.t
        if self.auto_step:
            self.t = t + 1
        if self._is_mask or self._prescaled:
            return unit
        scale = self._base * self._schedule(t) if self._scheduled else self._base
        noise = unit * scale
        if self._offset:
            noise = noise + self.process.offset  # type: ignore[union-attr]
        return noise

    @property
    def prescaled(self) -> bool:
        """Whether draws are scaled once per block (white noise at a constant scale)."""
        return self._prescaled

    @property
    def sampler(self) -> Any:
        """The fastest callable returning what :meth:`sample` returns.

        With white noise at a constant scale, the block's own hand-out of
        prescaled rows (it leaves :attr:`t` alone, which such a stream never reads).
        """
        return self.process.step if self._prescaled else self.sample

    def draw(self, out: Any = None) -> tuple[Any, Any]:
        """The next draw and the factor :class:`~rlnoise.core.combine.Combiner` still applies.

        ``(uniforms, probability)`` for the mask kinds, ``(unit, scale)`` for
        white noise of a ``unit_draws`` stream, else ``(scaled noise, None)``.

        Args:
            out: A buffer of :attr:`shape` the unit draws may be written into
                (reused by the caller from one draw to the next); ignored by the
                stateful kinds.
        """
        if self._is_mask or (self.unit_draws and not self.stateful):
            t = self.t
            process: Any = self.process
            unit = process.step() if out is None else process.step_into(out)
            if self.auto_step:
                self.t = t + 1
            return unit, (self._base * self._schedule(t) if self._scheduled else self._base)
        return self.sample(), None

    def perturb(self, x: Any) -> Any:
        """Return ``x`` combined with the next noise draw (clipped if the spec says so).

        Non-finite entries of ``x`` come back unchanged wherever clipping, a mask
        or a multiplication could otherwise alter them. A floating ``x`` keeps
        its dtype (a float32 observation stays float32 whatever the stream's own
        dtype); integers come back as floats, unrounded.
        """
        out = self.combiner(x, *self.draw())
        dtype = getattr(x, "dtype", None)
        if dtype is not None and dtype != out.dtype and _is_float(x):
            out = out.astype(dtype) if self._xp is np else out.to(dtype)
        return out

    def peek(self, rows: Any, fresh: Any) -> Any:
        """What :meth:`sample` would give ``rows`` next, without advancing anything.

        Args:
            rows: Row indices (an index array or list) of a batched stream;
                ``None`` for all rows, or for an unbatched stream.
            fresh: Unit draws of shape ``(len(rows), *row_shape)`` standing in for
                the randomness not drawn yet: all of it for white noise, the
                next increment for ``ou``, a new sequence's first value for
                ``colored`` rows whose sequence is used up.
        """
        process = self.process
        unit = fresh if isinstance(process, UnitBlock) else process.peek(rows, fresh)
        if self._is_mask:
            return unit
        scale = self.scale
        if (
            self.n_rows is not None
            and rows is not None
            and isinstance(scale, np.ndarray | torch.Tensor)
            and scale.ndim == len(self.shape)
        ):
            scale = scale[rows]  # per-row scales
        noise = unit * scale
        if self._offset:
            noise = noise + process.peek_offset(rows)  # type: ignore[union-attr]
        return noise

    def reset(self, rows: Sequence[int] | None = None, rngs: Any = None) -> None:
        """Restart ``rows`` (all when ``None``): zero OU state, fresh colored sequences.

        Args:
            rows: Row indices of a batched stream.
            rngs: New generator(s) for those rows (one per row for a per-row
                stream, a single one for a joint stream); ``None`` keeps the
                current stream going, as Gymnasium does for ``reset()`` without a seed.
        """
        self.process.reset(rows, rngs)


def _source(rng: Any, n_rows: int | None) -> RowRandom | TorchRowRandom:
    if isinstance(rng, RowRandom | TorchRowRandom):
        if n_rows is not None and n_rows != rng.n_rows:
            raise ValueError(f"the source has {rng.n_rows} rows, not n_rows={n_rows}")
        return rng
    if isinstance(rng, torch.Generator):
        return TorchRowRandom(rng, n_rows)
    if isinstance(rng, list | tuple) and rng and isinstance(rng[0], torch.Generator):
        return TorchRowRandom(rng, n_rows)
    return RowRandom(rng, n_rows)
