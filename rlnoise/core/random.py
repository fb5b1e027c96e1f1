"""Owned random sources: seeding helpers and per-row generators for batches.

rlnoise never touches the global numpy or torch RNG. Every injector owns a
``np.random.Generator`` or a ``torch.Generator`` derived from a seed with the
helpers here. A batch (rows of a vector env, episodes of an evaluation) can
draw from ONE generator jointly, or from one generator PER ROW, which makes a
row's noise independent of what else is in the batch: :class:`RowRandom`
(numpy) and :class:`TorchRowRandom` (torch) hand out unit draws either way.
A torch source can also follow its owner across devices
(:class:`DeviceGenerators`: one generator per device, all from one seed).

Example:
    >>> rng = make_rng(derive_seed(7, "condition-3", 12))
    >>> source = RowRandom([make_rng(1), make_rng(2)])
    >>> source.unit("gaussian", (3,), np.float32).shape
    (2, 3)
    >>> rows = TorchRowRandom([make_torch_generator(1), make_torch_generator(2)])
    >>> rows.unit("gaussian", (3,), torch.float32).shape
    torch.Size([2, 3])
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlnoise.core.kinds import fill_unit_torch, unit_numpy, unit_torch

__all__ = [
    "DeviceGenerators",
    "RowRandom",
    "TorchRowRandom",
    "derive_seed",
    "make_rng",
    "make_torch_generator",
    "resolve_seed",
]


def _key_int(key: Any) -> int:
    if isinstance(key, int | np.integer) and not isinstance(key, bool):
        return int(key) & 0xFFFFFFFF
    digest = hashlib.sha256(str(key).encode()).digest()
    return int.from_bytes(digest[:4], "little")


def derive_seed(seed: int | None, *keys: Any) -> int:
    """Derive a 63-bit seed from ``seed`` and any keys (ints or strings), stably.

    The same (seed, keys) always gives the same result, across processes and
    Python versions; different keys give statistically independent streams
    (via ``np.random.SeedSequence`` spawn keys).

    Example:
        >>> derive_seed(0, "obs", 3) == derive_seed(0, "obs", 3) != derive_seed(0, "obs", 4)
        True
    """
    entropy = None if seed is None else int(seed) % (2**128)
    sequence = np.random.SeedSequence(entropy, spawn_key=tuple(_key_int(k) for k in keys))
    return int(sequence.generate_state(1, np.uint64)[0]) >> 1


def make_rng(seed: int | None) -> np.random.Generator:
    """A fresh ``np.random.Generator`` (PCG64); ``None`` takes OS entropy."""
    return np.random.default_rng(seed)


def make_torch_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (``None``: OS entropy)."""
    generator = torch.Generator(device=device)
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed) % (2**63))
    return generator


def resolve_seed(seed: int | None) -> int:
    """Return ``seed``, or a fresh one from OS entropy (never the global RNG)."""
    if seed is not None:
        return int(seed)
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> 1)


class DeviceGenerators:
    """One ``torch.Generator`` per device, each seeded with ``derive_seed(seed, key)``.

    A module moved with ``.to()`` keeps drawing from an owned, reproducible
    stream: the generator of its new device is created (seeded) on first use.

    Args:
        seed: Base seed; ``None`` takes one from OS entropy once, so that all
            devices still share it.
        key: Extra derivation key (e.g. the owning module's name).

    Example:
        >>> generators = DeviceGenerators(0, key="layer")
        >>> generators.get(torch.device("cpu")) is generators.get(torch.device("cpu"))
        True
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


class RowRandom:
    """Unit draws for a batch of rows from one joint generator or one generator per row.

    Args:
        rng: A ``np.random.Generator`` shared by all rows (joint draws), or a
            sequence with one generator per row (independent rows).
        n_rows: Number of rows when ``rng`` is a single generator; ``None`` for
            an unbatched source.
    """

    def __init__(
        self, rng: np.random.Generator | Sequence[np.random.Generator], n_rows: int | None = None
    ):
        if isinstance(rng, np.random.Generator):
            self.joint: np.random.Generator | None = rng
            self.rows: list[np.random.Generator] = []
            self.n_rows = n_rows
        else:
            rows = list(rng)
            if not rows or not all(isinstance(r, np.random.Generator) for r in rows):
                raise ValueError("rng must be a numpy Generator or a non-empty list of Generators")
            if n_rows is not None and n_rows != len(rows):
                raise ValueError(f"got {len(rows)} generators for n_rows={n_rows}")
            self.joint = None
            self.rows = rows
            self.n_rows = len(rows)

    @property
    def per_row(self) -> bool:
        """True when every row has its own generator."""
        return self.joint is None

    def unit(
        self,
        kind: str,
        row_shape: tuple[int, ...],
        dtype: Any,
        *,
        lead: tuple[int, ...] = (),
        rows: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Unit draws of shape ``(*lead, n_selected_rows, *row_shape)``.

        Args:
            kind: Noise kind whose unit distribution to draw.
            row_shape: Shape of one row's draw.
            dtype: numpy float dtype.
            lead: Extra leading axes (e.g. a block of future steps), drawn
                consecutively from each row's generator.
            rows: Rows to draw for (default all); unbatched sources ignore it.
        """
        if self.n_rows is None:
            assert self.joint is not None
            return unit_numpy(kind, self.joint, (*lead, *row_shape), dtype)
        selected = range(self.n_rows) if rows is None else rows
        if self.joint is not None:
            return unit_numpy(kind, self.joint, (*lead, len(selected), *row_shape), dtype)
        out = np.empty((*lead, len(selected), *row_shape), dtype=dtype)
        for j, row in enumerate(selected):
            out[(slice(None),) * len(lead) + (j,)] = unit_numpy(
                kind, self.rows[row], (*lead, *row_shape), dtype
            )
        return out

    def reseed(
        self, rows: Sequence[int] | None, rngs: Sequence[np.random.Generator] | np.random.Generator
    ) -> None:
        """Replace the generator of ``rows`` (per-row mode) or the joint generator."""
        if isinstance(rngs, np.random.Generator):
            if self.joint is None:
                if rows is None or len(rows) != 1:
                    raise ValueError("a per-row source needs one generator per reseeded row")
                rngs = [rngs]
            else:
                self.joint = rngs
                return
        if self.joint is not None:
            raise ValueError("a joint source is reseeded with a single Generator")
        selected = range(len(self.rows)) if rows is None else rows
        rngs = list(rngs)
        if len(rngs) != len(selected):
            raise ValueError(f"got {len(rngs)} generators for {len(selected)} rows")
        for row, new in zip(selected, rngs, strict=True):
            self.rows[row] = new


class TorchRowRandom:
    """Torch counterpart of :class:`RowRandom`, on the generators' device.

    Args:
        generator: A ``torch.Generator`` shared by all rows (joint draws), a
            sequence with one generator per row (independent rows), or
            :class:`DeviceGenerators` (joint draws that follow :meth:`retarget`).
        n_rows: Number of rows for a joint source; ``None`` for an unbatched one.
        device: Where draws are made (default: the generator's; CPU for
            :class:`DeviceGenerators` until retargeted).
    """

    def __init__(
        self,
        generator: torch.Generator | Sequence[torch.Generator] | DeviceGenerators,
        n_rows: int | None = None,
        *,
        device: Any = None,
    ):
        self.devices: DeviceGenerators | None = None
        self.rows: list[torch.Generator] = []
        if isinstance(generator, DeviceGenerators):
            self.devices = generator
            self.device = torch.device("cpu" if device is None else device)
            self.generator: torch.Generator | None = generator.get(self.device)
            self.n_rows = n_rows
        elif isinstance(generator, torch.Generator):
            self.generator = generator
            self.n_rows = n_rows
            self.device = generator.device if device is None else torch.device(device)
        else:
            rows = list(generator)
            if not rows or not all(isinstance(r, torch.Generator) for r in rows):
                raise ValueError("generator must be a torch.Generator or a non-empty list of them")
            if n_rows is not None and n_rows != len(rows):
                raise ValueError(f"got {len(rows)} generators for n_rows={n_rows}")
            self.generator = None
            self.rows = rows
            self.n_rows = len(rows)
            self.device = rows[0].device if device is None else torch.device(device)

    @property
    def per_row(self) -> bool:
        """True when every row has its own generator."""
        return self.generator is None

    def retarget(self, device: torch.device) -> None:
        """Draw on ``device`` from now on, from its own generator (:class:`DeviceGenerators`)."""
        if self.devices is None:
            raise ValueError("only a source over DeviceGenerators can change device")
        self.device = torch.device(device)
        self.generator = self.devices.get(self.device)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if self.devices is not None:  # generators do not pickle; restart from the seed
            state["generator"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.devices is not None:
            self.generator = self.devices.get(self.device)

    def unit(
        self,
        kind: str,
        row_shape: tuple[int, ...],
        dtype: Any,
        *,
        lead: tuple[int, ...] = (),
        rows: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Unit draws of shape ``(*lead, n_selected_rows, *row_shape)`` on the source's device."""
        if self.generator is not None:
            count: tuple[int, ...] = ()
            if self.n_rows is not None:
                count = (self.n_rows if rows is None else len(rows),)
            return unit_torch(
                kind, self.generator, (*lead, *count, *row_shape), device=self.device, dtype=dtype
            )
        selected = range(len(self.rows)) if rows is None else rows
        parts = [
            unit_torch(kind, self.rows[row], (*lead, *row_shape), device=self.device, dtype=dtype)
            for row in selected
        ]
        return torch.stack(parts, dim=len(lead))

    def fill(self, kind: str, out: torch.Tensor) -> torch.Tensor:
        """Unit draws of ``out``'s shape written into ``out`` (joint source): the same
        values :meth:`unit` gives for that shape, without allocating."""
        if self.generator is None:
            raise ValueError("fill draws from a joint source")
        return fill_unit_torch(kind, self.generator, out)

    def reseed(self, rows: Sequence[int] | None, rngs: Any) -> None:
        """Replace the joint generator, or the generators of ``rows`` (per-row mode)."""
        if self.generator is not None:
            if not isinstance(rngs, torch.Generator):
                raise ValueError("a joint torch source is reseeded with a single torch.Generator")
            if self.devices is not None:
                raise ValueError("a source over DeviceGenerators is not reseeded")
            self.generator = rngs
            return
        if isinstance(rngs, torch.Generator):
            if rows is None or len(rows) != 1:
                raise ValueError("a per-row source needs one generator per reseeded row")
            rngs = [rngs]
        selected = range(len(self.rows)) if rows is None else rows
        rngs = list(rngs)
        if len(rngs) != len(selected):
            raise ValueError(f"got {len(rngs)} generators for {len(selected)} rows")
        for row, new in zip(selected, rngs, strict=True):
            self.rows[row] = new
