"""What an env wrapper can honour in a spec, and which values its noise can reach.

The second part decides ``observation_space`` after noise: the space is widened
exactly as far as the noise can move a value (unbounded for Gaussian-like
kinds, by the half-width for uniform noise, to 0 for dropout, to the impulse
values for salt-and-pepper), so that checkers and SB3 accept every observation.

Example:
    >>> import numpy as np
    >>> from rlnoise import NoiseSpec
    >>> low, high = np.array([-1.0]), np.array([1.0])
    >>> reachable_bounds(NoiseSpec.parse("uniform:0.2"), low, high, np.array([0.2]))
    (array([-1.2]), array([1.2]))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gymnasium import spaces

from rlnoise.core.spec import NoiseSpec

__all__ = ["check_env_spec", "reachable_bounds", "widened_box"]


def check_env_spec(spec: NoiseSpec, name: str) -> None:
    """Reject spec fields that an env wrapper cannot honour, naming the field and the value.

    Raises:
        ValueError: ``phases``, ``where``, ``adaptive``, ``relative_to="std"`` or a
            ``resample`` event (``rollout``/``update``) that env wrappers do not see.
    """
    if spec.phases is not None:
        raise ValueError(
            f"{name}: phases={list(spec.phases)} is not used by env wrappers (their noise is "
            "on while `noise_enabled` is True); remove it, or wrap only the envs to be noisy"
        )
    if spec.where:
        raise ValueError(f"{name}: where={list(spec.where)} selects policy parameters; remove it")
    if spec.adaptive is not None:
        raise ValueError(f"{name}: adaptive scaling is for parameter noise; remove 'adaptive'")
    if spec.relative_to == "std":
        raise ValueError(
            f"{name}: relative_to='std' needs a running std that env wrappers do not keep; wrap "
            "after VecNormalize (noise in normalised units) or use relative_to='range'"
        )
    if spec.resample in ("rollout", "update"):
        raise ValueError(
            f"{name}: resample={spec.resample!r} is an agent event that env wrappers do not see; "
            "use 'step', 'episode' or a step count"
        )


def reachable_bounds(
    spec: NoiseSpec, low: np.ndarray, high: np.ndarray, reach: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of ``spec`` applied to values in ``[low, high]`` (float64, per dimension).

    Args:
        spec: The noise.
        low: Lower bounds of the clean values.
        high: Upper bounds of the clean values.
        reach: Largest effective scale per dimension (``inf`` when a schedule
            may grow it without a known bound; a probability for mask kinds).
    """
    if spec.clip == "space":
        return low, high
    if spec.info.scale_is_probability:
        hit = reach > 0
        if spec.kind == "salt_pepper":
            values = spec.param_dict["values"]
            if values is None:
                g_low, g_high = low, high
            else:
                g_low = np.where(hit, np.minimum(low, values[0]), low)
                g_high = np.where(hit, np.maximum(high, values[1]), high)
        else:  # dropout: x * keep (* 1 / (1 - p) when rescaled)
            g_low = np.where(hit, np.minimum(low, 0.0), low)
            g_high = np.where(hit, np.maximum(high, 0.0), high)
            if spec.param_dict["rescale"]:
                p = np.minimum(reach, 1.0)
                with np.errstate(divide="ignore", invalid="ignore"):
                    gain = np.where(p < 1, 1.0 / (1.0 - p), 1.0)
                    g_low = np.where(hit & (low < 0), np.minimum(g_low, low * gain), g_low)
                    g_high = np.where(hit & (high > 0), np.maximum(g_high, high * gain), g_high)
    elif spec.mode == "multiplicative" or not spec.info.bounded:
        g_low = np.where(reach > 0, -np.inf, low)
        g_high = np.where(reach > 0, np.inf, high)
    else:  # uniform, additive: moves a value by at most its half-width
        g_low, g_high = low - reach, high + reach
    if isinstance(spec.clip, tuple):
        c_low, c_high = spec.clip
        g_low, g_high = np.clip(g_low, c_low, c_high), np.clip(g_high, c_low, c_high)
    return g_low, g_high


def widened_box(
    space: spaces.Box,
    noises: Sequence[tuple[NoiseSpec, np.ndarray]],
    int_range: tuple[float, float] | None,
) -> spaces.Box:
    """The space noisy values live in: the union over ``(spec, reach)`` pairs and clean values.

    Args:
        space: The clean space.
        noises: Each spec applied to some rows, with its largest scale per dimension.
        int_range: For an integer Box, the float range its values are clipped to.

    Returns:
        ``space`` itself when no bound moves, else a new Box of the same dtype.
    """
    low = np.asarray(space.low, dtype=np.float64)
    high = np.asarray(space.high, dtype=np.float64)
    new_low, new_high = low.copy(), high.copy()
    for spec, reach in noises:
        g_low, g_high = reachable_bounds(spec, low, high, reach)
        new_low = np.minimum(new_low, g_low)
        new_high = np.maximum(new_high, g_high)
    if int_range is not None:
        lo, hi = int_range
        new_low = np.clip(np.floor(new_low), lo, hi)
        new_high = np.clip(np.ceil(new_high), lo, hi)
    if np.array_equal(new_low, low) and np.array_equal(new_high, high):
        return space
    return spaces.Box(
        low=new_low.astype(space.dtype), high=new_high.astype(space.dtype), dtype=space.dtype
    )
