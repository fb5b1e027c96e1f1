"""The attacker's budget: an l_inf radius in absolute, observation-range or state-std units.

``eps`` is a float or a per-dimension vector. Its unit says what one unit is,
per observation dimension ``j``:

============  =================================================================
unit          radius on dimension ``j``
============  =================================================================
``absolute``  ``eps_j``
``range``     ``eps_j * (high_j - low_j)`` of the observation space (finite
              bounds only)
``std``       ``eps_j * std_j`` for ONE fixed state-std vector shared by every
              run of a grid (SA-DDPG's convention: ``eps = 0.3`` is
              ``0.3 * std_j``), given, or estimated once by
              :func:`estimate_state_std`
============  =================================================================

Why one fixed std vector: a steadier policy visits fewer states, so its own
state std is smaller; re-estimating the std per model would attack it with a
smaller radius and reward steadiness as robustness.

Example:
    >>> import numpy as np
    >>> radius(0.5, "range", low=np.zeros(2), high=np.array([2.0, 4.0])).tolist()
    [1.0, 2.0]
    >>> radius([0.1, 0.2], "std", std=np.array([2.0, 1.0])).tolist()
    [0.2, 0.2]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rlnoise.core.checks import check_choice, check_float, show

__all__ = ["UNITS", "as_eps", "estimate_state_std", "radius"]

UNITS = ("absolute", "range", "std")


def as_eps(name: str, value: Any) -> float | tuple[float, ...]:
    """A validated radius: a float ``>= 0`` or a non-empty tuple of them (a per-dimension ε).

    Raises:
        ValueError: Naming ``name`` and the value.
    """
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number >= 0 or a list of them, got {show(value)}")
    if isinstance(value, int | float | np.floating | np.integer):
        return check_float(name, value, low=0.0)
    if isinstance(value, list | tuple | np.ndarray):
        items = [as_eps(name, v) for v in np.asarray(value, dtype=object).ravel()]
        if not items:
            raise ValueError(f"{name} must not be an empty list")
        return tuple(float(v) for v in items)  # type: ignore[arg-type]
    raise ValueError(f"{name} must be a number >= 0 or a list of them, got {show(value)}")


def radius(
    eps: float | Sequence[float],
    unit: str,
    *,
    low: np.ndarray | None = None,
    high: np.ndarray | None = None,
    std: np.ndarray | Sequence[float] | None = None,
    where: str = "eps",
) -> np.ndarray:
    """The absolute per-dimension radius of ``eps`` in ``unit`` (float64, flat).

    Args:
        eps: Radius, scalar or one value per observation dimension.
        unit: ``"absolute"``, ``"range"`` or ``"std"``.
        low: Lower bounds of the observation space (``range``).
        high: Upper bounds (``range``).
        std: The state-std vector (``std``).
        where: How errors name the setting.

    Returns:
        A flat array with one radius per dimension (length 1 for a scalar
        ``eps`` in absolute units).

    Raises:
        ValueError: Unknown unit, infinite bounds for ``range``, a missing or
            non-positive ``std``, or lengths that do not match.
    """
    check_choice(f"{where} unit", unit, UNITS)
    base = np.atleast_1d(np.asarray(eps, dtype=np.float64)).ravel()
    if unit == "absolute":
        return base
    if unit == "range":
        if low is None or high is None:
            raise ValueError(f"{where}: unit 'range' needs the observation space's bounds")
        span = (np.asarray(high, np.float64) - np.asarray(low, np.float64)).ravel()
        if not np.all(np.isfinite(span)):
            raise ValueError(
                f"{where}: unit 'range' needs finite observation bounds, and "
                f"{int((~np.isfinite(span)).sum())} of {span.size} dimensions are unbounded; "
                "use unit 'std' or 'absolute'"
            )
        scale = span
    else:
        if std is None:
            raise ValueError(
                f"{where}: unit 'std' needs the state-std vector ('std: [...]', or "
                "'std: {estimate: pooled}' / '{estimate: RUN}' in evaluate_robustness)"
            )
        scale = np.asarray(std, np.float64).ravel()
        if not np.all(np.isfinite(scale)) or np.any(scale < 0):
            raise ValueError(f"{where}: std must be finite and >= 0, got {show(scale.tolist())}")
    if base.size not in (1, scale.size):
        raise ValueError(
            f"{where}: a per-dimension eps has {base.size} values and the {unit} vector "
            f"{scale.size}; they must match"
        )
    return base * scale


def estimate_state_std(
    models: Any,
    env_id: str | Callable[[], Any],
    *,
    n_episodes: int = 10,
    seed: int = 0,
    algo: str | None = None,
    max_steps: int = 1000,
    normalizers: Sequence[Callable[[np.ndarray], np.ndarray] | None] | None = None,
) -> np.ndarray:
    """The per-dimension std of the states visited by clean deterministic rollouts, pooled.

    Estimate it ONCE (one reference run, or every run of the grid pooled) and
    pass the same vector to every condition in ``std`` units.

    Args:
        models: An SB3 model, a saved zip, or a list of them (pooled: the std
            of all their states together).
        env_id: Gymnasium id, or a callable making the env.
        n_episodes: Episodes per model (reset seeds ``seed, seed + 1, ...``).
        seed: First reset seed.
        algo: Algorithm of saved zips (``"PPO"``...), found from the zip when ``None``.
        max_steps: Cap on the steps of an episode.
        normalizers: Per model, the observation transform its policy expects
            (VecNormalize statistics), or ``None``; the std is of the raw states.

    Returns:
        float64 vector, one std per observation dimension (raw env units).

    Example:
        >>> from stable_baselines3 import PPO
        >>> std = estimate_state_std(PPO("MlpPolicy", "CartPole-v1", seed=0, device="cpu"),
        ...                          "CartPole-v1", n_episodes=2)
        >>> std.shape
        (4,)
    """
    import gymnasium as gym

    if not isinstance(n_episodes, int) or isinstance(n_episodes, bool) or n_episodes < 1:
        raise ValueError(f"n_episodes must be an integer >= 1, got {show(n_episodes)}")
    items = models if isinstance(models, list | tuple) else [models]
    if not items:
        raise ValueError("estimate_state_std needs at least one model")
    states: list[np.ndarray] = []
    for index, item in enumerate(items):
        model = _load(item, algo)
        normalize = None if normalizers is None else normalizers[index]
        env = gym.make(env_id) if isinstance(env_id, str) else env_id()
        try:
            for episode in range(n_episodes):
                obs, _ = env.reset(seed=seed + episode)
                for _ in range(max_steps):
                    states.append(np.asarray(obs, np.float64).ravel())
                    seen = obs if normalize is None else normalize(obs)
                    action, _ = model.predict(seen, deterministic=True)
                    obs, _, terminated, truncated, _ = env.step(action)
                    if terminated or truncated:
                        break
        finally:
            env.close()
    return np.stack(states).std(axis=0)


def _load(item: Any, algo: str | None) -> Any:
    if not isinstance(item, str):
        return item
    import stable_baselines3 as sb3

    if algo is None:
        raise ValueError(f"estimate_state_std: name the algo of the saved model {item!r}")
    cls = getattr(sb3, algo, None)
    if cls is None:
        raise ValueError(f"estimate_state_std: unknown algo {algo!r}")
    return cls.load(item, device="cpu")
