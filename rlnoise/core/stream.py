"""``NoiseStream``: a spec bound to a shape, a dtype and owned generator(s).

This is the object injectors hold. It draws in blocks (one generator call per
``block_size`` steps), keeps the state of the stateful kinds per row, applies
the schedule at its step count ``t``, and combines noise with clean values in
the spec's mode, clipping where the spec asks.

Example:
    >>> import numpy as np
    >>> from rlnoise import NoiseSpec
    >>> stream = NoiseStream("gaussian:0.1", (4,), np.random.default_rng(0), dtype=np.float32)
    >>> stream.perturb(np.zeros(4, np.float32)).dtype
    dtype('float32')
    >>> batch = NoiseStream("ou:0.2", (3,), [np.random.default_rng(s) for s in range(8)])
    >>> batch.sample().shape  # 8 rows, one independent generator each
    (8, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlnoise.core.kinds import combine
from rlnoise.core.processes import ColoredNoiseProcess, OUProcess, UnitBlock
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
        rng: A ``np.random.Generator`` or ``torch.Generator`` (joint draws), or a
            list of numpy generators, one per row (independent rows).
        n_rows: Batch size when ``rng`` is a single generator; ``None`` for
            unbatched draws of shape ``shape``.
        dtype: Float dtype of the draws (numpy, or torch for a torch generator).
        low: Lower bounds of the noised values (the space's), used by
            ``relative_to="range"``, ``clip="space"`` and ``salt_pepper``.
        high: Upper bounds, as ``low``.
        scale: Overrides the spec's scale (e.g. per-row scales of shape
            ``(n_rows, 1)``); must broadcast to the batch shape.
        block_size: Steps of white noise drawn per generator call.

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
        rng: np.random.Generator | torch.Generator | Sequence[np.random.Generator],
        *,
        n_rows: int | None = None,
        dtype: Any = None,
        low: Any = None,
        high: Any = None,
        scale: Any = None,
        block_size: int = 256,
    ):
        self.spec: NoiseSpec = as_noise_spec(spec)
        self.row_shape = tuple(int(d) for d in shape)
        if isinstance(rng, torch.Generator):
            self.source: RowRandom | TorchRowRandom = TorchRowRandom(rng, n_rows)
            self.dtype = torch.float32 if dtype is None else dtype
            self._xp: Any = torch
        else:
            self.source = RowRandom(rng, n_rows)
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
        self._guard = self._clip is not None or self._is_mask
        self._schedule = self.spec.schedule
        self._scheduled = not self._schedule.is_constant
        self.t = 0
        self.auto_step = True
        self.reference_std: Any = 1.0
        if self._kind == "ou":
            p = self._params
            self._process: Any = OUProcess(
                self.row_shape, p["theta"], p["dt"], self.source, self.dtype, block_size
            )
        elif self._kind == "colored":
            p = self._params
            self._process = ColoredNoiseProcess(
                self.row_shape, p["beta"], p["length"], self.source, self.dtype
            )
        else:
            self._process = UnitBlock(
                self._kind, self.row_shape, self.source, self.dtype, block_size
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
            isinstance(self._process, UnitBlock) and not self._is_mask and not self._scheduled
        )
        if isinstance(self._process, UnitBlock):
            self._process.set_multiplier(self._base if self._prescaled else None)

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
        unit = self._process.step()
        t = self.t
        if self.auto_step:
            self.t = t + 1
        if self._is_mask:
            return unit
        if self._prescaled:
            noise = unit
        elif self._scheduled:
            noise = unit * (self._base * self._schedule(t))
        else:
            noise = unit * self._base
        if self._kind == "ou" and self._params["mean"]:
            noise = noise + self._params["mean"]
        return noise

    def perturb(self, x: Any) -> Any:
        """Return ``x`` combined with the next noise draw (clipped if the spec says so).

        Non-finite entries of ``x`` come back unchanged when clipping or a mask
        kind could otherwise alter them. A floating ``x`` keeps its dtype (a
        float32 observation stays float32 whatever the stream's own dtype);
        integers come back as floats, unrounded.
        """
        if self._is_mask:
            t = self.t
            unit = self.sample()
            probability = self._base * self._schedule(t) if self._scheduled else self._base
            low, high = self._impulse
            out = combine(
                self._kind,
                self._mode,
                x,
                unit,
                probability=probability,
                params=self._params,
                low=low,
                high=high,
            )
        elif self._mode == "additive":
            out = x + self.sample()
        else:
            out = x * (1 + self.sample())
        if self._clip is not None:
            if self._xp is np:
                out = np.clip(out, self._clip[0], self._clip[1])
            else:
                out = torch.clamp(out, self._clip[0], self._clip[1])
        if self._guard:
            out = self._xp.where(self._xp.isfinite(x), out, x)
        dtype = getattr(x, "dtype", None)
        if dtype is not None and dtype != out.dtype and _is_float(x):
            out = out.astype(dtype) if self._xp is np else out.to(dtype)
        return out

    def reset(self, rows: Sequence[int] | None = None, rngs: Any = None) -> None:
        """Restart ``rows`` (all when ``None``): zero OU state, fresh colored sequences.

        Args:
            rows: Row indices of a batched stream.
            rngs: New generator(s) for those rows (one per row for a per-row
                stream, a single one for a joint stream); ``None`` keeps the
                current stream going, as Gymnasium does for ``reset()`` without a seed.
        """
        self._process.reset(rows, rngs)
