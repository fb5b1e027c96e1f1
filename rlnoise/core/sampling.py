"""One-shot draws of a spec, for numpy generators and torch generators alike.

For repeated draws (every env step, every forward pass) hold a
:class:`~rlnoise.core.stream.NoiseStream` instead: it draws in blocks and
keeps the state of the stateful kinds. These functions serve fresh,
independent draws: weight noise per forward pass, gradient noise per update.

Example:
    >>> import numpy as np, torch
    >>> from rlnoise import NoiseSpec
    >>> spec = NoiseSpec.parse("gaussian:0.1")
    >>> a = sample(spec, np.random.default_rng(0), (2, 3), dtype=np.float32)
    >>> b = sample(spec.replace(scale=1.0), np.random.default_rng(0), (2, 3), dtype=np.float32)
    >>> bool(np.allclose(a, 0.1 * b))
    True
    >>> sample(spec, torch.Generator().manual_seed(0), (4,)).dtype
    torch.float32
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlnoise.core.combine import Combiner
from rlnoise.core.kinds import KINDS, unit_numpy, unit_torch
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec

__all__ = ["perturb", "sample"]


def _scale(spec: NoiseSpec, shape: tuple[int, ...], scale: Any, t: float) -> Any:
    if scale is None:
        scale = spec.scale
        if not isinstance(scale, float):
            scale = spec.scale_array(shape)
    schedule = spec.schedule
    if schedule.is_constant and schedule(0) == 1.0:
        return scale
    return scale * schedule(t)


def _stateless(spec: NoiseSpec) -> None:
    if spec.info.stateful:
        raise ValueError(
            f"kind {spec.kind!r} is a process with state over steps; draw it with "
            "rlnoise.core.NoiseStream (or OUProcess / ColoredNoiseProcess)"
        )


def sample(
    spec: NoiseSpecLike,
    rng: np.random.Generator | torch.Generator,
    shape: Sequence[int],
    *,
    dtype: Any = None,
    device: Any = None,
    scale: Any = None,
    t: float = 0,
) -> Any:
    """Draw noise of ``shape``: unit draw x scale x schedule(t), or uniforms for mask kinds.

    Args:
        spec: A stateless noise kind (not ``ou`` / ``colored``).
        rng: ``np.random.Generator`` (numpy result) or ``torch.Generator`` (torch result).
        shape: Output shape.
        dtype: numpy or torch float dtype (default float64 / float32).
        device: Torch device (default: the generator's).
        scale: Overrides the spec's scale (number or broadcastable array/tensor).
        t: Step count for the spec's schedule.
    """
    if type(spec) is not NoiseSpec:
        spec = as_noise_spec(spec)
    info = KINDS[spec.kind]
    if info.stateful:
        _stateless(spec)
    shape = tuple(shape)
    factor = None if info.scale_is_probability else _scale(spec, shape, scale, t)
    if type(rng) is np.random.Generator or not isinstance(rng, torch.Generator):
        unit: Any = unit_numpy(spec.kind, rng, shape, np.float64 if dtype is None else dtype)
    elif spec.kind == "gaussian" and isinstance(factor, float):
        # One fused kernel (randn * std), not two passes over memory: matters on GPUs.
        device = rng.device if device is None else device
        dtype = torch.float32 if dtype is None else dtype
        return torch.normal(0.0, factor, shape, generator=rng, device=device, dtype=dtype)
    else:
        unit = unit_torch(spec.kind, rng, shape, device=device, dtype=dtype or torch.float32)
    if factor is None:
        return unit
    if isinstance(unit, torch.Tensor):
        if isinstance(factor, np.ndarray):
            factor = torch.as_tensor(factor, dtype=unit.dtype, device=unit.device)
        return unit.mul_(factor)
    unit *= factor
    return unit


def perturb(
    spec: NoiseSpecLike,
    x: Any,
    rng: np.random.Generator | torch.Generator,
    *,
    low: Any = None,
    high: Any = None,
    scale: Any = None,
    t: float = 0,
) -> Any:
    """Return ``x`` with one fresh draw of ``spec`` combined in the spec's mode.

    Args:
        spec: A stateless noise kind.
        x: numpy array (with a numpy generator) or tensor (with a torch generator).
        rng: The owned generator.
        low: Bounds of the space, for ``clip="space"`` and ``salt_pepper``.
        high: As ``low``.
        scale: Overrides the spec's scale.
        t: Step count for the schedule.

    Example:
        >>> import numpy as np
        >>> out = perturb("dropout:1.0", np.ones(3), np.random.default_rng(0))
        >>> out.tolist()
        [0.0, 0.0, 0.0]
    """
    spec = as_noise_spec(spec)
    is_torch = isinstance(x, torch.Tensor)
    shape = tuple(x.shape)
    dtype = x.dtype if (is_torch or np.issubdtype(x.dtype, np.floating)) else None
    noise = sample(
        spec, rng, shape, dtype=dtype, device=x.device if is_torch else None, scale=scale, t=t
    )
    factor = _scale(spec, shape, scale, t) if spec.info.scale_is_probability else None
    clip: tuple[Any, Any] | None = None
    if spec.clip is not None:
        if spec.clip == "space":
            if low is None or high is None:
                raise ValueError("clip='space' needs the bounds of the noised space (low/high)")
            clip = (low, high)
        else:
            clip = (spec.clip[0], spec.clip[1])
        if is_torch:
            clip = (
                torch.as_tensor(clip[0], dtype=noise.dtype, device=noise.device),
                torch.as_tensor(clip[1], dtype=noise.dtype, device=noise.device),
            )
    return Combiner(spec, low=low, high=high, clip=clip)(x, noise, factor)
