"""``UnitBlock``: white unit noise drawn a block of steps at a time, handed out step by step.

One generator call serves many steps, which is what makes per-step noise
cheap: an env wrapper's observation noise, a network's weight noise per
forward pass, a NoisyNet layer's resample. A block can be

- *prescaled* (:meth:`UnitBlock.set_multiplier`): every draw times the scale,
  one multiply per block instead of one per step;
- *transformed* (``transform``): a function applied once to each whole block
  (NoisyNet's ``sign(x) sqrt(|x|)`` and outer-product layout, or weight
  noise's prepared operands, :func:`rlnoise.core.combine.prepare`);
- *split* (``split``): each draw cut into tensors of given shapes, the views
  made once per block, so a draw costs no tensor operation at all.

Each row's values are the consecutive stream of its own generator (per-row
sources), so a row reseeded at step ``p`` sees exactly what a fresh generator
gives, whatever the block size. The first block is drawn at the first step.

Example:
    >>> import numpy as np
    >>> from rlnoise.core.random import RowRandom
    >>> block = UnitBlock("gaussian", (2,), RowRandom(np.random.default_rng(0), n_rows=3),
    ...                   np.float32, block_size=8)
    >>> block.step().shape
    (3, 2)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from operator import length_hint
from typing import Any

import torch

from rlnoise.core.random import RowRandom, TorchRowRandom

__all__ = ["BLOCK_ELEMENTS", "UnitBlock", "rows_per_block"]

Source = RowRandom | TorchRowRandom

# Elements drawn per block when the caller sizes blocks by memory: large enough that
# the generator's per-call overhead vanishes, small enough that a conv layer's block
# stays a few MiB.
BLOCK_ELEMENTS = 1 << 16


def rows_per_block(numel: int, cap: int = 256) -> int:
    """Draws of ``numel`` elements per block: as many as fit in :data:`BLOCK_ELEMENTS`."""
    return max(1, min(cap, BLOCK_ELEMENTS // max(1, numel)))


def full_shape(source: Source, row_shape: tuple[int, ...]) -> tuple[int, ...]:
    """``row_shape``, with the source's row count in front when it is batched."""
    return row_shape if source.n_rows is None else (source.n_rows, *row_shape)


def check_rows(source: Source, rows: Sequence[int] | None) -> None:
    """Raise if ``rows`` are given for an unbatched source."""
    if rows is not None and source.n_rows is None:
        raise ValueError("rows can only be given for a batched source (n_rows set)")


class UnitBlock:
    """White unit noise of one kind, a block of ``block_size`` steps per generator call.

    Args:
        kind: Kind whose unit distribution is drawn.
        row_shape: Shape of one row (the whole draw when unbatched).
        source: Where draws come from (numpy or torch, joint or per row).
        dtype: Array dtype (numpy or torch).
        block_size: Steps drawn per refill.
        transform: Applied once to each drawn block of shape ``(block_size,
            *shape)`` (may work in place); returns the block handed out.
        split: Cut each (transformed) draw into tensors of these shapes, their
            sizes summing to its length; :meth:`step` then returns a tuple.
    """

    def __init__(
        self,
        kind: str,
        row_shape: Sequence[int],
        source: Source,
        dtype: Any,
        block_size: int = 256,
        *,
        transform: Callable[[Any], Any] | None = None,
        split: Sequence[tuple[int, ...]] | None = None,
    ):
        self.kind = kind
        self.row_shape = tuple(row_shape)
        self.source = source
        self.dtype = dtype
        self.block_size = int(block_size)
        self.shape = full_shape(source, self.row_shape)
        self.transform = transform
        self.split = None if split is None else [tuple(shape) for shape in split]
        if self.split is not None:
            if len(self.shape) != 1 or not isinstance(source, TorchRowRandom):
                raise ValueError("split needs flat torch draws (one axis per row)")
            if transform is None and sum(math.prod(s) for s in self.split) != self.shape[0]:
                raise ValueError(f"shapes {self.split} do not add up to {self.shape[0]} elements")
        self.multiplier: Any = None
        self._block: Any = None  # raw unit draws of the current block
        self._ready: Any = None  # the block after the transform
        self._items: Iterator[Any] = iter(())

    # -- drawing -----------------------------------------------------------------
    def _refill(self) -> None:
        self._block = self.source.unit(
            self.kind, self.row_shape, self.dtype, lead=(self.block_size,)
        )
        self._ready = self._block if self.transform is None else self.transform(self._block)
        self._serve(0)

    def _serve(self, position: int) -> None:
        """Hand out the ready block (times the multiplier) from ``position`` on."""
        block = self._ready if self.multiplier is None else self._ready * self.multiplier
        if isinstance(block, torch.Tensor):
            if self.split is None:
                items: Sequence[Any] = block.unbind(0)
            else:
                sizes = [math.prod(shape) for shape in self.split]
                parts = [
                    part.reshape(self.block_size, *shape).unbind(0)
                    for part, shape in zip(block.split(sizes, dim=1), self.split, strict=True)
                ]
                items = tuple(zip(*parts, strict=True))
        else:
            items = block  # iterating an array yields views of its rows, in C
        self._items = iter(items)
        if position:
            self._items.__setstate__(position)  # type: ignore[attr-defined]

    @property
    def position(self) -> int:
        """Steps of the current block already handed out (``block_size``: none left)."""
        return self.block_size - length_hint(self._items)

    def step(self) -> Any:
        """The next draw (times the multiplier), shape ``(n_rows, *row_shape)``.

        The result is a view into the block: do not modify it.
        """
        try:
            return next(self._items)
        except StopIteration:
            self._refill()
            return next(self._items)

    def step_into(self, out: Any) -> Any:
        """The next draw, written into ``out`` (the caller's buffer, reused step after step).

        With one step per block from a joint torch source, the draw goes straight
        into ``out`` (the same values, no block allocated); otherwise it is copied.
        Returns the draw (``out``, or a new tensor for ``laplace``).
        """
        source = self.source
        if (
            self.block_size == 1
            and self.transform is None
            and self.multiplier is None
            and isinstance(source, TorchRowRandom)
            and not source.per_row
            and source.n_rows is None
        ):
            return source.fill(self.kind, out)
        out[...] = self.step()
        return out

    # -- changes -----------------------------------------------------------------
    def set_multiplier(self, multiplier: Any) -> None:
        """Scale every draw handed out from now on by ``multiplier`` (``None``: unscaled)."""
        self.multiplier = multiplier
        if self._ready is not None:
            self._serve(self.position)

    def retarget(self, device: torch.device, dtype: Any) -> None:
        """Draw on ``device`` in ``dtype`` from now on (the rest of the block is dropped)."""
        if not isinstance(self.source, TorchRowRandom):
            raise ValueError("retarget is for torch sources")
        if device != self.source.device or dtype != self.dtype:
            self.source.retarget(device)
            self.dtype = dtype
            self._block = self._ready = None
            self._items = iter(())

    def reset(self, rows: Sequence[int] | None = None, rngs: Any = None) -> None:
        """Reseed ``rows`` (all when ``None``) with ``rngs``; without ``rngs`` nothing changes.

        White noise has no state, so a reset only matters when a new generator
        is given: the rest of the block is redrawn from it.
        """
        check_rows(self.source, rows)
        if rngs is None:
            return
        self.source.reseed(rows, rngs)
        remaining = length_hint(self._items)
        if rows is None or not self.source.per_row:
            self._block = self._ready = None
            self._items = iter(())
            return
        if remaining:
            if self.transform is not None:
                raise ValueError("a transformed block cannot reseed single rows")
            fresh = self.source.unit(
                self.kind, self.row_shape, self.dtype, lead=(remaining,), rows=rows
            )
            position = self.block_size - remaining
            self._block[position:, list(rows)] = fresh
            self._serve(position)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_items"] = self.position  # an iterator of views: store where it stood
        if isinstance(self.source, TorchRowRandom) and self.source.devices is not None:
            # A copy's generators restart from the seed: the rest of the block stays behind.
            state["_block"] = state["_ready"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        position = state.pop("_items")
        self.__dict__.update(state)
        self._items = iter(())
        if self._ready is not None:
            self._serve(position)
