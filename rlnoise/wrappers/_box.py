"""``BoxNoise``: one noise spec (or one per row) applied to values of one ``Box`` space.

This is the engine under every wrapper in :mod:`rlnoise.wrappers`. It holds
:class:`~rlnoise.core.stream.NoiseStream` objects (one per group of rows that
share a spec up to its scale), converts integer values (images) to float and
back, widens the space when the noise can leave it, and serves the three
moments a wrapper needs: a step (:meth:`BoxNoise.apply`), an episode start
(:meth:`BoxNoise.restart` / :meth:`BoxNoise.reseed`) and, for vector envs that
reset in the same step, the last observation of the finished episode
(:meth:`BoxNoise.final`).

Example:
    >>> import numpy as np
    >>> from gymnasium.spaces import Box
    >>> from rlnoise import NoiseSpec
    >>> image = Box(0, 255, (2, 2), np.uint8)
    >>> noise = BoxNoise("observation", image, [NoiseSpec.parse("gaussian:20")],
    ...                  n_rows=None, seed_key=("observation",))
    >>> noise.reseed([0])
    >>> noise.apply(np.full((2, 2), 250, np.uint8)).dtype
    dtype('uint8')
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces

from rlnoise.core.held import HeldDraws
from rlnoise.core.random import derive_seed, make_rng
from rlnoise.core.spec import NoiseSpec
from rlnoise.core.stream import NoiseStream
from rlnoise.wrappers._reach import check_env_spec, widened_box

__all__ = ["BoxNoise", "Seed"]

#: What seeds a row: an int (derived with the noise's seed key), ``None`` (OS
#: entropy) or a generator used as it is.
Seed = int | None | np.random.Generator


def _row_index(rows: list[int], n_rows: int) -> Any:
    """``None`` for all rows in order, a slice for a contiguous run, else an index array."""
    if rows == list(range(n_rows)):
        return None
    if rows == list(range(rows[0], rows[-1] + 1)):
        return slice(rows[0], rows[-1] + 1)
    return np.asarray(rows, dtype=np.intp)


@dataclass(eq=False)
class _Group:
    """Rows that share one spec up to its scale, drawn by one stream."""

    spec: NoiseSpec
    rows: list[int]  # global row indices (``[0]`` for an unbatched value)
    index: Any  # how to select these rows from a batch (None: all of it)
    stream: NoiseStream
    seeds: list[Seed]
    hold: HeldDraws | None  # resample="episode" or every N steps; None: a draw per step
    override: Any  # per-row scales of a batched group, shape (rows, ...); None: the spec's
    side: NoiseStream | None = None  # independent draws for final observations
    local: dict[int, int] = field(default_factory=dict)


class BoxNoise:
    """Noise for the values of one ``Box`` space, for one env or a batch of rows.

    Args:
        name: Label used in error messages and :meth:`scales` (e.g. ``"observation/pos"``).
        space: The Box the clean values live in.
        specs: One spec per row (``None``: that row stays clean); a single
            entry when ``n_rows`` is ``None``.
        n_rows: Batch size, or ``None`` for unbatched values.
        seed_key: Keys mixed into every seed with :func:`~rlnoise.core.random.derive_seed`,
            so that this noise never shares a stream with the env or another leaf.

    Raises:
        ValueError: Unsupported dtype, a spec field env wrappers cannot honour,
            a per-dimension scale that does not match ``space.shape``, or bounds
            that the spec needs but the space does not have.
    """

    def __init__(
        self,
        name: str,
        space: spaces.Box,
        specs: Sequence[NoiseSpec | None],
        *,
        n_rows: int | None,
        seed_key: tuple[Any, ...],
    ):
        self.name = name
        self.space = space
        self.n_rows = n_rows
        self.seed_key = tuple(seed_key)
        self.row_shape = tuple(space.shape)
        self.dtype = np.dtype(space.dtype)
        count = 1 if n_rows is None else n_rows
        if len(specs) != count:
            raise ValueError(f"{name}: got {len(specs)} specs for {count} rows")
        if np.issubdtype(self.dtype, np.floating):
            self.integer = False
            self.work_dtype = np.dtype(np.float32 if self.dtype.itemsize < 4 else self.dtype)
        elif np.issubdtype(self.dtype, np.integer):
            self.integer = True
            self.work_dtype = np.dtype(np.float32 if self.dtype.itemsize <= 2 else np.float64)
            info = np.iinfo(self.dtype)  # type: ignore[type-var]
            # The largest float64 not above the integer limit, so the cast back cannot overflow.
            high = np.nextafter(np.float64(info.max), -np.inf) if info.bits > 53 else info.max
            self._int_range = (float(info.min), float(high))
        else:
            raise ValueError(
                f"{name}: Box of dtype {self.dtype} is not supported; use a float or integer Box"
            )
        for spec in specs:
            if spec is not None:
                check_env_spec(spec, name)
        self.t = 0
        self._all_rows = list(range(count))
        self._unseeded = set(self._all_rows)
        self._groups = self._build_groups(list(specs))
        self.scheduled = any(not g.spec.schedule.is_constant for g in self._groups)
        # Episode starts only matter to processes with state and to held draws.
        self.restarts = any(g.spec.info.stateful or g.hold is not None for g in self._groups)
        self._whole = (
            self._groups[0] if len(self._groups) == 1 and self._groups[0].index is None else None
        )
        # The hot path: one stream over every row, white or stateful additive noise on floats.
        fast = self._whole
        self._fast = (
            fast.stream
            if fast is not None
            and not self.integer
            and self.work_dtype == self.dtype
            and fast.spec.mode == "additive"
            and not fast.spec.info.scale_is_probability
            and fast.spec.clip is None
            and fast.hold is None
            else None
        )
        # One draw to add per step: the stream's fastest hand-out (prescaled white noise
        # comes straight from its block).
        self.draw: Any = None if self._fast is None else self._fast.sampler
        self.prescaled = self._fast is not None and self._fast.prescaled
        self.output_space = widened_box(
            self.space,
            [(g.spec, self._reach(g)) for g in self._groups],
            self._int_range if self.integer else None,
        )

    # -- construction ------------------------------------------------------------
    def _build_groups(self, specs: list[NoiseSpec | None]) -> list[_Group]:
        keyed: dict[str, list[int]] = {}
        for row, spec in enumerate(specs):
            if spec is None:
                continue
            # Rows whose specs differ only in scale share one stream (per-row scales).
            key = json.dumps(spec.replace(scale=0.0).to_dict(), sort_keys=True, default=str)
            keyed.setdefault(key, []).append(row)
        if not keyed:
            raise ValueError(f"{self.name}: no row has a noise spec")
        groups = []
        for rows in keyed.values():
            spec = specs[rows[0]]
            assert spec is not None
            groups.append(self._make_group(spec, rows, [specs[r] for r in rows]))
        return groups

    def _make_group(
        self, spec: NoiseSpec, rows: list[int], row_specs: list[NoiseSpec | None]
    ) -> _Group:
        name, shape = self.name, self.row_shape
        low = np.asarray(self.space.low, dtype=np.float64)
        high = np.asarray(self.space.high, dtype=np.float64)
        try:
            scales = [s.scale_array(shape) for s in row_specs if s is not None]
        except ValueError as error:
            raise ValueError(f"{name} (space {self.space}): {error}") from None
        if spec.kind == "salt_pepper" and spec.param_dict["values"] is None:
            unbounded = np.flatnonzero(~(np.isfinite(low) & np.isfinite(high)).reshape(-1))
            if unbounded.size:
                raise ValueError(
                    f"{name}: salt_pepper replaces values by the space's bounds, but dimensions "
                    f"{unbounded.tolist()} of {self.space} are unbounded; set values=[low, high]"
                )
        override: Any = None
        if self.n_rows is not None:
            if all(s.ndim == 0 for s in scales):
                override = np.asarray(scales).reshape(len(rows), *([1] * len(shape)))
            else:
                override = np.stack([np.broadcast_to(s, shape) for s in scales])
        rngs: Any = make_rng(None) if self.n_rows is None else [make_rng(None) for _ in rows]
        try:
            stream = NoiseStream(
                spec,
                shape,
                rngs,
                dtype=self.work_dtype,
                low=low,
                high=high,
                scale=override,
            )
        except ValueError as error:
            raise ValueError(f"{name} (space {self.space}): {error}") from None
        stream.set_step(0)
        hold = None
        if spec.resample == "episode" or isinstance(spec.resample, int):
            hold = HeldDraws(stream, 0 if spec.resample == "episode" else int(spec.resample))
        index = None if self.n_rows is None else _row_index(rows, self.n_rows)
        group = _Group(
            spec=spec,
            rows=rows,
            index=index,
            stream=stream,
            seeds=[None] * len(rows),
            hold=hold,
            override=override,
        )
        group.local = {row: j for j, row in enumerate(rows)}
        return group

    def _reach(self, group: _Group) -> np.ndarray:
        """Largest effective scale per dimension over the group's rows (``inf``: unknown)."""
        if group.spec.schedule.is_constant:
            # Exactly the scale the stream draws with (range-relative and per-row included).
            scale = np.asarray(group.stream.scale, dtype=np.float64)
            if self.n_rows is not None:
                scale = scale.max(axis=0)
            return np.broadcast_to(scale, self.row_shape)
        # Any other schedule may grow without a known bound: unbounded where scale > 0.
        if group.override is None:
            scale = group.spec.scale_array(self.row_shape)
        else:
            scale = np.asarray(group.override, dtype=np.float64).max(axis=0)
        return np.where(np.broadcast_to(scale, self.row_shape) > 0, np.inf, 0.0)

    # -- seeding and episodes ----------------------------------------------------------
    def _rng(self, seed: Seed, *extra: str) -> np.random.Generator:
        if isinstance(seed, np.random.Generator):
            # Used as given; an independent stream beside it is spawned from it.
            return seed.spawn(1)[0] if extra else seed
        return make_rng(None if seed is None else derive_seed(seed, *self.seed_key, *extra))

    def reseed(self, seeds: Sequence[Seed], rows: Sequence[int] | None = None) -> None:
        """Give ``rows`` (all when ``None``) new generators derived from ``seeds`` and restart them.

        A ``None`` seed draws fresh OS entropy for that row; a
        ``np.random.Generator`` is used as it is (a caller that seeds its rows
        itself, such as the batched evaluation: one generator per episode).
        """
        rows = (
            list(range(1 if self.n_rows is None else self.n_rows)) if rows is None else list(rows)
        )
        if len(seeds) != len(rows):
            raise ValueError(f"{self.name}: got {len(seeds)} seeds for {len(rows)} rows")
        self._unseeded.difference_update(rows)
        for group in self._groups:
            local = [
                (group.local[r], s) for r, s in zip(rows, seeds, strict=True) if r in group.local
            ]
            if not local:
                continue
            for j, seed in local:
                group.seeds[j] = seed
            self._reseed_stream(group, group.stream, local, ())
            if group.side is not None:
                self._reseed_stream(group, group.side, local, ("final",))
            if group.hold is not None:
                group.hold.restart([j for j, _ in local] if self.n_rows is not None else None)

    def _reseed_stream(
        self,
        group: _Group,
        stream: NoiseStream,
        local: list[tuple[int, Seed]],
        extra: tuple[str, ...],
    ) -> None:
        if self.n_rows is None:
            stream.reset(rngs=self._rng(local[0][1], *extra))
        elif len(local) == len(group.rows):
            ordered = sorted(local)
            stream.reset(rngs=[self._rng(s, *extra) for _, s in ordered])
        else:
            stream.reset(rows=[j for j, _ in local], rngs=[self._rng(s, *extra) for _, s in local])

    def restart(self, rows: Sequence[int] | None = None) -> None:
        """Start new episodes for ``rows`` (all when ``None``): stateful kinds start over.

        A row that was never seeded takes fresh OS entropy at its first episode
        (as Gymnasium envs do), not the entropy drawn when the wrapper was built,
        so copies of one wrapper (a forked worker, a deep copy) never share noise.
        """
        if self._unseeded:
            fresh = [r for r in (self._all_rows if rows is None else rows) if r in self._unseeded]
            if fresh:
                self.reseed([None] * len(fresh), fresh)
                if rows is None and len(fresh) == len(self._all_rows):
                    return
                rows = [r for r in (self._all_rows if rows is None else rows) if r not in fresh]
        if not self.restarts:
            return
        for group in self._groups:
            if rows is None:
                local = None
            else:
                local = [group.local[r] for r in rows if r in group.local]
                if not local:
                    continue
            whole = self.n_rows is None or local is None
            if group.spec.info.stateful:
                group.stream.reset(rows=None if whole else local)
            if group.hold is not None:
                group.hold.restart(None if whole else local)

    # -- schedule clock ----------------------------------------------------------------
    def set_step(self, t: int) -> None:
        """Set the schedules' step count (from a local counter or an outside clock)."""
        self.t = int(t)
        if self.scheduled:
            for group in self._groups:
                group.stream.set_step(self.t)
                if group.side is not None:
                    group.side.set_step(self.t)

    def scales(self) -> float:
        """Mean effective scale over noisy rows and dimensions at the current step."""
        total, count = 0.0, 0
        for group in self._groups:
            total += float(np.mean(group.stream.scale)) * len(group.rows)
            count += len(group.rows)
        return total / count

    # -- applying ----------------------------------------------------------------------
    def apply(self, x: Any) -> Any:
        """Return the noisy version of ``x`` (a value, or a batch of rows), in the space's dtype."""
        draw = self.draw
        if draw is not None:
            return x + draw()
        work = np.asarray(x, dtype=self.work_dtype)
        whole = self._whole
        if whole is not None:
            out = self._perturb(whole, work)
        else:
            out = work.copy() if work is x else work
            for group in self._groups:
                out[group.index] = self._perturb(group, work[group.index])
        return self._finish(out)

    def _finish(self, out: Any) -> Any:
        if self.integer:
            np.rint(out, out=out)
            np.clip(out, *self._int_range, out=out)
            return out.astype(self.dtype)
        if out.dtype != self.dtype:
            return out.astype(self.dtype)
        return out

    def _perturb(self, group: _Group, x: np.ndarray) -> np.ndarray:
        if group.hold is not None:
            return self._combine(group, x, group.hold.sample(), None)
        return group.stream.perturb(x)

    def _combine(self, group: _Group, x: np.ndarray, noise: Any, local: Any) -> np.ndarray:
        """Combine ``x`` with given (scaled) noise as the stream combines its own draws."""
        factor = None
        if group.spec.info.scale_is_probability:
            factor = group.stream.scale
            if local is not None and isinstance(factor, np.ndarray):
                factor = factor[local]
        out = group.stream.combiner(x, noise, factor)
        return out.astype(self.work_dtype, copy=False)

    # -- final observations of vector envs that reset in the same step ------------------
    def final(self, x: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Noise for the last observations ``x`` (stacked, one per row in ``rows``).

        Each row gets the draw its episode would have seen next — the held draw,
        the next step of its OU / colored process, or an independent white draw —
        without advancing the stream, so the row's next episode starts exactly as
        it would without this call.
        """
        if self.n_rows is None:
            raise ValueError("final() is for batched noise (n_rows set)")
        work = np.asarray(x, dtype=self.work_dtype)
        out = work.copy()
        rows = list(rows)
        for group in self._groups:
            picked = [(k, group.local[r]) for k, r in enumerate(rows) if r in group.local]
            if not picked:
                continue
            positions = [k for k, _ in picked]
            local = np.asarray([j for _, j in picked], dtype=np.intp)
            noise = self._continuation(group, local)
            out[positions] = self._combine(group, work[positions], noise, local)
        return self._finish(out)

    def final_rows(self, values: Sequence[Any], rows: Sequence[int]) -> list[Any]:
        """:meth:`final` for a list of per-row values, returning a list."""
        if self.prescaled:
            noise = self.final_draw()
            return [value + noise[row] for value, row in zip(values, rows, strict=True)]
        return list(self.final(np.array(values), rows))

    def final_draw(self) -> Any:
        """Independent noise for the final observations of every row: to add, row by row.

        Only for one stream over all rows of constant white additive noise (see
        :attr:`draw`), where the draw the episode would have seen next is any
        independent draw; it comes from the side stream's pre-scaled block.
        """
        if not self.prescaled:
            raise ValueError(f"{self.name}: final_draw() needs constant white additive noise")
        return self._side(self._whole).sampler()  # type: ignore[arg-type]

    def _side(self, group: _Group) -> NoiseStream:
        """Independent draws for final observations: the spec's own, or unit normals that
        stand in for what a stateful process has not drawn yet."""
        if group.side is None:
            spec = group.spec
            stateful = spec.info.stateful
            stream = group.stream
            group.side = NoiseStream(
                NoiseSpec("gaussian", scale=1.0) if stateful else spec,
                self.row_shape,
                [self._rng(s, "final") for s in group.seeds],
                dtype=self.work_dtype,
                low=None if stateful else stream.combiner.low,
                high=None if stateful else stream.combiner.high,
                scale=None if stateful else group.override,
            )
            group.side.set_step(self.t)
        return group.side

    def _continuation(self, group: _Group, local: np.ndarray) -> Any:
        if group.hold is not None and group.hold.held is not None:
            return group.hold.held[local]
        fresh = self._side(group).sample()[local]
        if not group.spec.info.stateful:
            return fresh
        return group.stream.peek(local, fresh)
