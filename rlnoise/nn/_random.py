"""Owned torch randomness for network noise: one generator per device, draws in blocks.

A module's noise must come from a generator it owns, on the device its tensors
live on. :class:`DeviceGenerators` creates one ``torch.Generator`` per device
on first use, all seeded from the same seed, so a module moved with ``.to()``
keeps drawing from an owned, reproducible stream. :class:`BlockDraws` hands out
fixed-size unit draws from blocks of many at once: one generator call serves
many forward passes or resamples, which is what makes per-step noise cheap on
small networks.

Example:
    >>> import torch
    >>> draws = BlockDraws("gaussian", 3, DeviceGenerators(0), rows=4)
    >>> first = draws.next(torch.device("cpu"), torch.float32)
    >>> first.shape
    torch.Size([3])
    >>> again = BlockDraws("gaussian", 3, DeviceGenerators(0), rows=4)
    >>> bool(torch.equal(first, again.next(torch.device("cpu"), torch.float32)))
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from rlnoise.core.kinds import unit_torch
from rlnoise.core.random import derive_seed, make_torch_generator

__all__ = ["BlockDraws", "DeviceGenerators", "resolve_seed"]

# Elements drawn per block refill: large enough that the generator's per-call
# overhead vanishes, small enough that a conv layer's block stays a few MiB.
BLOCK_ELEMENTS = 1 << 16


def resolve_seed(seed: int | None) -> int:
    """Return ``seed``, or a fresh one from OS entropy (never the global RNG)."""
    if seed is not None:
        return int(seed)
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)


class DeviceGenerators:
    """One ``torch.Generator`` per device, each seeded with ``derive_seed(seed, key)``.

    Args:
        seed: Base seed; ``None`` takes one from OS entropy once, so that all
            devices still share it.
        key: Extra derivation key (e.g. the owning module's name).
    """

    def __init__(self, seed: int | None, key: str = "") -> None:
        self.seed = derive_seed(resolve_seed(seed), key) if key else resolve_seed(seed)
        self._generators: dict[tuple[str, int | None], torch.Generator] = {}

    def get(self, device: torch.device) -> torch.Generator:
        """The generator for ``device`` (created, seeded, on first request)."""
        index = (device.type, device.index)
        generator = self._generators.get(index)
        if generator is None:
            generator = make_torch_generator(self.seed, device)
            self._generators[index] = generator
        return generator

    def __getstate__(self) -> dict[str, object]:
        # torch.Generator objects do not pickle; a copy restarts its streams from the seed.
        return {"seed": self.seed, "_generators": {}}


class BlockDraws:
    """Unit draws of ``numel`` elements, served one at a time from blocks of ``rows``.

    Args:
        kind: Noise kind whose unit distribution is drawn (see
            :func:`rlnoise.core.kinds.unit_torch`).
        numel: Elements per draw handed out.
        generators: Where the draws come from.
        rows: Draws per block; by default as many as fit in ``BLOCK_ELEMENTS``
            (at least 1, at most 256).
        transform: Applied once to each whole block of shape ``(rows,
            drawn)`` and returning ``(rows, numel)`` (e.g. NoisyNet's
            ``sign(x) sqrt(|x|)`` and outer products), so its cost is paid per
            block, not per draw.
        drawn: Unit draws per row fed to ``transform`` (default ``numel``).
        shapes: Split each draw into tensors of these shapes (their sizes sum
            to ``numel``); :meth:`next` then returns a tuple. The views are made
            once per block, so a draw costs no tensor operation at all.
    """

    def __init__(
        self,
        kind: str,
        numel: int,
        generators: DeviceGenerators,
        *,
        rows: int | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        drawn: int | None = None,
        shapes: Sequence[tuple[int, ...]] | None = None,
    ) -> None:
        self.kind = kind
        self.numel = int(numel)
        self.drawn = self.numel if drawn is None else int(drawn)
        self.generators = generators
        self.rows = rows if rows is not None else max(1, min(256, BLOCK_ELEMENTS // self.numel))
        self.transform = transform
        self.shapes = None if shapes is None else [tuple(shape) for shape in shapes]
        if self.shapes is not None and sum(math.prod(s) for s in self.shapes) != self.numel:
            raise ValueError(f"shapes {self.shapes} do not add up to {self.numel} elements")
        self.device = torch.device("cpu")
        self.dtype = torch.float32
        self._served: Sequence[Any] = ()
        self._next = 0

    def __getstate__(self) -> dict[str, Any]:
        # The rest of the block stays behind: pickle would store the whole block once per
        # row (each row is a view), and a copy's generators restart from the seed anyway.
        return {**self.__dict__, "_served": (), "_next": 0}

    def retarget(self, device: torch.device, dtype: torch.dtype) -> None:
        """Draw on ``device`` in ``dtype`` from now on (the rest of the block is dropped)."""
        if device != self.device or dtype != self.dtype:
            self.device, self.dtype = device, dtype
            self._served, self._next = (), 0

    def _refill(self) -> None:
        block = unit_torch(
            self.kind,
            self.generators.get(self.device),
            (self.rows, self.drawn),
            device=self.device,
            dtype=self.dtype,
        )
        if self.transform is not None:
            block = self.transform(block)
        if self.shapes is None:
            self._served = block.unbind(0)
        else:
            sizes = [math.prod(shape) for shape in self.shapes]
            parts = [
                part.reshape(self.rows, *shape).unbind(0)
                for part, shape in zip(block.split(sizes, dim=1), self.shapes, strict=True)
            ]
            self._served = list(zip(*parts, strict=True))
        self._next = 0

    def next(self, device: torch.device | None = None, dtype: torch.dtype | None = None) -> Any:
        """The next draw (a 1-D tensor, or a tuple per ``shapes``); never modified afterwards.

        Args:
            device: Retarget first if it differs (omit when the owner retargets itself).
            dtype: As ``device``.
        """
        if device is not None and dtype is not None:
            self.retarget(device, dtype)
        if self._next >= len(self._served):
            self._refill()
        item = self._served[self._next]
        self._next += 1
        return item
