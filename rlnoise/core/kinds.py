"""The noise kinds: their parameters, natural modes, unit draws and spreads.

A kind draws *unit* noise (standard normal, uniform on [-1, 1], standard
Laplace, or a uniform [0, 1) variate for the mask kinds); the injector scales it
and combines it with the clean value. Keeping the unit draw separate from the
scale is what makes "scaled draw == unit draw x scale" hold for every sampler.

============  ==================================  =============  =====================
kind          ``scale`` means                      default mode   parameters
============  ==================================  =============  =====================
gaussian      standard deviation                  additive       -
uniform       half-width: U(-scale, scale)        additive       -
laplace       Laplace scale b (std = b * sqrt 2)  additive       -
salt_pepper   probability an element is hit       replace        values, salt_ratio
dropout       probability an element is zeroed    multiplicative rescale
ou            sigma of the OU diffusion           additive       theta, dt, mean
colored       standard deviation                  additive       beta, length
============  ==================================  =============  =====================

``multiplicative`` for the continuous kinds means ``x * (1 + noise)``; how each
mode combines lives in :mod:`rlnoise.core.combine`. A new kind is an entry of
:data:`KINDS` plus its unit draws below (and, for a process with state over
steps, its class in :mod:`rlnoise.core.processes`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rlnoise.core.checks import check_float, check_int, check_probability, show
from rlnoise.core.combine import MODES, combine

__all__ = [
    "CONTINUOUS_KINDS",
    "KINDS",
    "MASK_KINDS",
    "MODES",
    "STATEFUL_KINDS",
    "KindInfo",
    "combine",
    "fill_unit_torch",
    "stationary_std",
    "unit_numpy",
    "unit_torch",
]


def _check_values(field: str, value: Any) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"{field} must be [low, high] or null, got {show(value)}")
    low = check_float(f"{field}[0]", value[0])
    high = check_float(f"{field}[1]", value[1])
    return (low, high)


def _check_bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{field} must be true or false, got {show(value)}")
    return bool(value)


@dataclass(frozen=True)
class KindInfo:
    """Static description of one noise kind.

    Attributes:
        name: The kind's name as written in specs.
        default_mode: The combination mode used when a spec gives none.
        modes: The combination modes this kind supports.
        params: Parameter name -> (default, validator(field, value) -> value).
        scale_is_probability: ``scale`` is a probability in [0, 1] (mask kinds).
        stateful: Draws are a temporally correlated process with per-row state.
        bounded: Unit draws lie in [-1, 1], so additive noise moves a value by at
            most ``scale`` (otherwise the noise can reach any value).
    """

    name: str
    default_mode: str
    modes: tuple[str, ...]
    params: dict[str, tuple[Any, Callable[[str, Any], Any]]]
    scale_is_probability: bool = False
    stateful: bool = False
    bounded: bool = False


_ADD_MUL = ("additive", "multiplicative")

KINDS: dict[str, KindInfo] = {
    "gaussian": KindInfo("gaussian", "additive", _ADD_MUL, {}),
    "uniform": KindInfo("uniform", "additive", _ADD_MUL, {}, bounded=True),
    "laplace": KindInfo("laplace", "additive", _ADD_MUL, {}),
    "salt_pepper": KindInfo(
        "salt_pepper",
        "replace",
        ("replace",),
        {"values": (None, _check_values), "salt_ratio": (0.5, check_probability)},
        scale_is_probability=True,
    ),
    "dropout": KindInfo(
        "dropout",
        "multiplicative",
        ("multiplicative",),
        {"rescale": (False, _check_bool)},
        scale_is_probability=True,
    ),
    "ou": KindInfo(
        "ou",
        "additive",
        _ADD_MUL,
        {
            "theta": (0.15, lambda f, v: check_float(f, v, low=0.0)),
            "dt": (0.01, lambda f, v: check_float(f, v, low=0.0, low_open=True)),
            "mean": (0.0, check_float),
        },
        stateful=True,
    ),
    "colored": KindInfo(
        "colored",
        "additive",
        _ADD_MUL,
        {
            "beta": (1.0, lambda f, v: check_float(f, v, low=0.0, high=4.0)),
            "length": (1000, lambda f, v: check_int(f, v, low=2, high=1_000_000)),
        },
        stateful=True,
    ),
}

CONTINUOUS_KINDS = ("gaussian", "uniform", "laplace", "ou", "colored")
MASK_KINDS = ("salt_pepper", "dropout")
STATEFUL_KINDS = ("ou", "colored")


def unit_numpy(
    kind: str, rng: np.random.Generator, shape: tuple[int, ...], dtype: Any = np.float64
) -> np.ndarray:
    """Draw unit noise of a stateless kind from ``rng`` (ou/colored draw standard normals).

    Example:
        >>> unit_numpy("uniform", np.random.default_rng(0), (3,)).round(3)
        array([ 0.274, -0.46 , -0.918])
    """
    if kind in ("gaussian", "ou", "colored"):
        return rng.standard_normal(shape, dtype=dtype)
    if kind == "uniform":
        out = rng.random(shape, dtype=dtype)
        out *= 2
        out -= 1
        return out
    if kind == "laplace":
        return rng.laplace(0.0, 1.0, shape).astype(dtype, copy=False)
    if kind in MASK_KINDS:
        return rng.random(shape, dtype=dtype)
    raise ValueError(f"kind must be one of {sorted(KINDS)}, got {show(kind)}")


def unit_torch(
    kind: str,
    generator: torch.Generator,
    shape: tuple[int, ...],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Draw unit noise of a stateless kind from a ``torch.Generator`` on its device.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> unit_torch("gaussian", g, (2,)).shape
        torch.Size([2])
    """
    device = generator.device if device is None else device
    if kind in ("gaussian", "ou", "colored"):
        return torch.randn(shape, generator=generator, device=device, dtype=dtype)
    if kind in MASK_KINDS:
        return torch.rand(shape, generator=generator, device=device, dtype=dtype)
    if kind == "uniform":
        out = torch.rand(shape, generator=generator, device=device, dtype=dtype)
        return out.mul_(2).sub_(1)
    if kind == "laplace":
        # Inverse CDF of the standard Laplace; clamp keeps log1p(-2|u|) finite.
        half = torch.rand(shape, generator=generator, device=device, dtype=dtype).sub_(0.5)
        eps = torch.finfo(dtype).eps
        magnitude = torch.log1p(-2 * half.abs().clamp_(max=0.5 - eps))
        return magnitude.mul_(-torch.sign(half))
    raise ValueError(f"kind must be one of {sorted(KINDS)}, got {show(kind)}")


def fill_unit_torch(kind: str, generator: torch.Generator, out: torch.Tensor) -> torch.Tensor:
    """:func:`unit_torch` drawn into ``out`` (the same values), skipping the allocation.

    Returns the unit draws: ``out`` itself, except for ``laplace`` (a new tensor).

    Example:
        >>> buffer = torch.empty(3)
        >>> first = fill_unit_torch("gaussian", torch.Generator().manual_seed(0), buffer)
        >>> bool(torch.equal(first, unit_torch("gaussian", torch.Generator().manual_seed(0), (3,))))
        True
    """
    if kind in ("gaussian", "ou", "colored"):
        return out.normal_(generator=generator)
    if kind in MASK_KINDS:
        return out.uniform_(generator=generator)
    if kind == "uniform":
        return out.uniform_(generator=generator).mul_(2).sub_(1)
    if kind == "laplace":
        half = out.uniform_(generator=generator).sub_(0.5)
        eps = torch.finfo(out.dtype).eps
        magnitude = torch.log1p(-2 * half.abs().clamp_(max=0.5 - eps))
        return magnitude.mul_(-torch.sign(half))
    raise ValueError(f"kind must be one of {sorted(KINDS)}, got {show(kind)}")


def stationary_std(kind: str, params: dict[str, Any]) -> float:
    """Standard deviation of a kind's unit noise (before ``scale``), for comparisons.

    Example:
        >>> round(stationary_std("uniform", {}), 4)
        0.5774
    """
    if kind in ("gaussian", "colored"):
        return 1.0
    if kind == "uniform":
        return 1.0 / math.sqrt(3.0)
    if kind == "laplace":
        return math.sqrt(2.0)
    if kind == "ou":
        theta, dt = params["theta"], params["dt"]
        if theta == 0:
            return math.inf
        # Exact stationary variance of the discretised recursion z' = a z + sqrt(dt) eps.
        a = 1.0 - theta * dt
        return math.sqrt(dt / (1.0 - a * a)) if abs(a) < 1 else math.inf
    raise ValueError(f"stationary_std is defined for continuous kinds, got {show(kind)}")
