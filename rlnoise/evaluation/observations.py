"""Dict observations as flat rows: what lets the batched runner evaluate ``MultiInputPolicy``.

The runner keeps every live observation in one numpy array and perturbs whole
rows. A Dict observation of Box subspaces is laid out as one flat row: each
key's values, flattened, one key after another in the order of the policy's
Dict space. Noise, normalisation (:mod:`rlnoise.evaluation.normalization`),
attacks and the transfer to the policy's device all work on these rows;
:meth:`DictLayout.unflatten` turns a row batch back into the ``{key: tensor}``
the policy's features extractor takes, right before the forward pass (inside
the scores module, so attacks differentiate through it and weight noise vmaps
over it).

The flat dtype holds every key's values exactly (``float32`` unless a key
needs ``float64``), and each key reaches the policy as ``float32``, which is
what SB3's ``preprocess_obs`` makes of every Box key (image keys are then
divided by 255 as usual), so clean actions equal
``model.predict(obs, deterministic=True)``.

Example:
    >>> import numpy as np
    >>> from gymnasium import spaces
    >>> space = spaces.Dict({"a": spaces.Box(-1, 1, (2,)), "b": spaces.Box(0, 1, (1,))})
    >>> layout = DictLayout(space)
    >>> layout.flatten([{"a": np.array([0.5, -0.5]), "b": np.array([1.0])}]).tolist()
    [[0.5, -0.5, 1.0]]
    >>> {k: tuple(v.shape) for k, v in layout.unflatten(torch.zeros(4, 3)).items()}
    {'a': (4, 2), 'b': (4, 1)}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

__all__ = ["DictLayout"]


class DictLayout:
    """How a Dict observation of Box subspaces maps to a flat row.

    Args:
        space: The policy's Dict observation space.

    Raises:
        ValueError: A subspace that is not a Box (nested Dict or Tuple,
            Discrete, MultiBinary...): evaluation supports a Dict of Box only.
    """

    def __init__(self, space: spaces.Dict):
        for key, sub in space.spaces.items():
            if not isinstance(sub, spaces.Box):
                kind = "nested" if isinstance(sub, spaces.Dict | spaces.Tuple) else "non-Box"
                raise ValueError(
                    f"observation space {space} is not supported: key {key!r} is a {kind} "
                    f"subspace ({sub}); evaluate_robustness takes a Dict of Box subspaces only"
                )
        boxes: dict[str, spaces.Box] = dict(space.spaces)  # type: ignore[arg-type]
        if not boxes:
            raise ValueError(f"observation space {space} has no keys")
        self.keys: tuple[str, ...] = tuple(boxes)
        self.shapes: dict[str, tuple[int, ...]] = {k: tuple(b.shape) for k, b in boxes.items()}
        self.dtype = np.result_type(np.float32, *(b.dtype for b in boxes.values()))
        self.slices: dict[str, slice] = {}
        start = 0
        for key in self.keys:
            size = int(np.prod(self.shapes[key], dtype=np.int64))
            self.slices[key] = slice(start, start + size)
            start += size
        self.size = start
        low = np.concatenate([boxes[k].low.reshape(-1).astype(self.dtype) for k in self.keys])
        high = np.concatenate([boxes[k].high.reshape(-1).astype(self.dtype) for k in self.keys])
        # The flat Box every row lives in: the runner's noise and bounds work on it.
        self.space = spaces.Box(low, high, dtype=self.dtype)
        # Elements of integer keys (images): observation attacks leave them alone.
        self.integer = np.zeros(self.size, dtype=bool)
        for key in self.keys:
            if not np.issubdtype(boxes[key].dtype, np.floating):
                self.integer[self.slices[key]] = True

    @property
    def signature(self) -> tuple[Any, ...]:
        """Keys, shapes and flat dtype: equal signatures lay rows out identically."""
        return (self.keys, tuple(self.shapes[k] for k in self.keys), str(self.dtype))

    def flatten(self, observations: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Dict observations -> rows ``(n, size)`` of the flat dtype."""
        n = len(observations)
        return np.concatenate(
            [np.asarray([o[k] for o in observations]).reshape(n, -1) for k in self.keys],
            axis=1,
            dtype=self.dtype,
        )

    def flatten_one(self, observation: Mapping[str, Any]) -> np.ndarray:
        """One Dict observation -> one row ``(size,)``."""
        return self.flatten([observation])[0]

    def unflatten(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        """Rows ``(n, size)`` -> ``{key: float32 tensor (n, *shape)}``, the policy's input."""
        return {
            key: rows[:, self.slices[key]].reshape(-1, *self.shapes[key]).float()
            for key in self.keys
        }
