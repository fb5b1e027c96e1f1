"""``VecNormalize``'s observation normalisation, for the runner's rows, in numpy and in torch.

SB3 normalises an observation as ``clip((obs - mean) / sqrt(var + eps), -clip_obs,
clip_obs)`` in float64 and returns float32. The runner does the same to its
numpy rows (:meth:`normalize`) and, for attacks that differentiate through the
normalisation, to tensors on the policy's device (:meth:`normalize_torch`):
the same float64 arithmetic, so both give identical float32 values. Dict
observations (flat rows, :class:`~rlnoise.evaluation.observations.DictLayout`)
normalise the keys in ``norm_obs_keys``, each with its own statistics.

Example:
    >>> import numpy as np
    >>> from types import SimpleNamespace
    >>> stats = SimpleNamespace(mean=np.zeros(2), var=np.full(2, 4.0))
    >>> vec = SimpleNamespace(obs_rms=stats, epsilon=0.0, clip_obs=10.0, norm_obs=True)
    >>> BoxNormalizer(vec, (2,), torch.device("cpu")).normalize(np.array([[2.0, -4.0]])).tolist()
    [[1.0, -2.0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rlnoise.evaluation.observations import DictLayout

__all__ = ["BoxNormalizer", "DictNormalizer", "make_normalizer", "normalized_keys"]


class BoxNormalizer:
    """``VecNormalize.normalize_obs`` for rows of a Box observation.

    Args:
        vec_normalize: ``VecNormalize`` (or its statistics) with a Box ``obs_rms``.
        shape: The policy's observation shape.
        device: Where :meth:`normalize_torch` gets its rows (the policy's device).

    Raises:
        ValueError: Statistics of another shape.
    """

    def __init__(self, vec_normalize: Any, shape: tuple[int, ...], device: torch.device):
        rms = vec_normalize.obs_rms
        self.mean = np.asarray(rms.mean, dtype=np.float64)
        self.var = np.asarray(rms.var, dtype=np.float64)
        if self.mean.shape != shape or self.var.shape != shape:
            raise ValueError(
                f"VecNormalize statistics have shape {self.mean.shape}, but the policy's "
                f"observations have shape {shape}: they were not made for this policy"
            )
        self.shape = shape
        self.epsilon = float(vec_normalize.epsilon)
        self.clip = float(vec_normalize.clip_obs)
        self._torch = (
            torch.as_tensor(self.mean, device=device),
            torch.sqrt(torch.as_tensor(self.var, device=device) + self.epsilon),
        )

    def normalize(self, rows: np.ndarray) -> np.ndarray:
        """Normalised rows (float64 arithmetic, float32 result)."""
        values = (rows - self.mean) / np.sqrt(self.var + self.epsilon)
        return np.clip(values, -self.clip, self.clip).astype(np.float32)

    def normalize_torch(self, rows: torch.Tensor) -> torch.Tensor:
        """Differentiable twin of :meth:`normalize` (bit-identical values)."""
        mean, std = self._torch
        return (
            ((rows.to(torch.float64) - mean) / std).clamp(-self.clip, self.clip).to(torch.float32)
        )

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of normalised rows: ``±clip_obs``."""
        return (
            np.full(self.shape, -self.clip, np.float32),
            np.full(self.shape, self.clip, np.float32),
        )


def normalized_keys(vec_normalize: Any) -> list[str]:
    """The keys whose statistics a Dict ``VecNormalize`` applies: ``norm_obs_keys``, else all."""
    return list(getattr(vec_normalize, "norm_obs_keys", None) or vec_normalize.obs_rms)


class DictNormalizer:
    """``VecNormalize.normalize_obs`` for flat rows of Dict observations.

    SB3 normalises the keys in ``norm_obs_keys`` (all keys by default), each
    with its own statistics, in float64 and returns them as float32; the other
    keys pass through. Here the same arithmetic runs on each key's slice.

    Args:
        layout: The rows' layout.
        vec_normalize: ``VecNormalize`` with dict ``obs_rms``.
        device: Where :meth:`normalize_torch` gets its rows (the policy's device).

    Raises:
        ValueError: Statistics for keys the policy does not have, or of the wrong shape.
    """

    def __init__(self, layout: DictLayout, vec_normalize: Any, device: torch.device):
        rms = vec_normalize.obs_rms
        self.epsilon = float(vec_normalize.epsilon)
        self.clip = float(vec_normalize.clip_obs)
        self.layout = layout
        self.parts: list[tuple[slice, np.ndarray, np.ndarray]] = []
        for key in normalized_keys(vec_normalize):
            if key not in layout.slices or key not in rms:
                raise ValueError(
                    f"VecNormalize normalises the observation key {key!r}, but the policy's "
                    f"observation keys are {list(layout.keys)}: they were not made for this policy"
                )
            mean = np.asarray(rms[key].mean, dtype=np.float64)
            var = np.asarray(rms[key].var, dtype=np.float64)
            shape = layout.shapes[key]
            if mean.shape != shape or var.shape != shape:
                raise ValueError(
                    f"VecNormalize statistics of key {key!r} have shape {mean.shape}, but the "
                    f"policy's observations have shape {shape}: they were not made for this policy"
                )
            self.parts.append((layout.slices[key], mean.reshape(-1), var.reshape(-1)))
        self.parts.sort(key=lambda part: part[0].start)
        self._torch = [
            (
                part,
                torch.as_tensor(mean, device=device),
                torch.sqrt(torch.as_tensor(var, device=device) + self.epsilon),
            )
            for part, mean, var in self.parts
        ]

    def normalize(self, rows: np.ndarray) -> np.ndarray:
        """Normalised copy of ``rows`` (normalised keys rounded to float32, as SB3 returns them)."""
        out = rows.copy()
        for part, mean, var in self.parts:
            values = (rows[:, part] - mean) / np.sqrt(var + self.epsilon)
            out[:, part] = np.clip(values, -self.clip, self.clip).astype(np.float32)
        return out

    def normalize_torch(self, rows: torch.Tensor) -> torch.Tensor:
        """Differentiable twin of :meth:`normalize` (bit-identical values)."""
        if not self.parts:
            return rows
        pieces, end = [], 0
        for part, mean, std in self._torch:
            if part.start > end:
                pieces.append(rows[:, end : part.start])
            scaled = ((rows[:, part].to(torch.float64) - mean) / std).clamp(-self.clip, self.clip)
            pieces.append(scaled.to(torch.float32).to(rows.dtype))
            end = part.stop
        if end < rows.shape[1]:
            pieces.append(rows[:, end:])
        return torch.cat(pieces, dim=1)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of normalised rows: ``±clip_obs`` on normalised keys, the space's elsewhere."""
        low = self.layout.space.low.copy()
        high = self.layout.space.high.copy()
        for part, _, _ in self.parts:
            low[part], high[part] = -self.clip, self.clip
        return low, high


def make_normalizer(
    vec_normalize: Any,
    layout: DictLayout | None,
    shape: tuple[int, ...],
    observation_space: Any,
    device: torch.device,
) -> BoxNormalizer | DictNormalizer | None:
    """The normaliser of a policy's rows, or ``None`` (no statistics, or ``norm_obs`` off).

    Raises:
        ValueError: Statistics of the wrong kind (Box vs Dict), keys or shapes.
    """
    if vec_normalize is None or not getattr(vec_normalize, "norm_obs", False):
        return None
    rms = vec_normalize.obs_rms
    if isinstance(rms, dict) != (layout is not None):
        raise ValueError(
            f"VecNormalize statistics are for {'Dict' if isinstance(rms, dict) else 'Box'}"
            f" observations, but the policy's observation space is "
            f"{observation_space}: they were not made for this policy"
        )
    if layout is not None:
        return DictNormalizer(layout, vec_normalize, device)
    return BoxNormalizer(vec_normalize, shape, device)
