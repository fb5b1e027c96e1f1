"""The one module of :mod:`rlnoise.wrappers` that reads Stable-Baselines3's internals.

:mod:`rlnoise.policies.binder` is where rlnoise reads the private state of
SB3's algorithms and policies; the wrappers sit below the policies and may not
import it, and the one thing they need is here: the seeds an SB3 ``VecEnv``
will hand its sub-envs at the next ``reset()``. SB3 keeps them in
``VecEnv._seeds`` (set by ``seed()`` and by ``make_vec_env(..., seed=s)``,
cleared by the reset) and has no public way to read them, so
:class:`~rlnoise.wrappers.VecObservationNoise` asks here to seed each row's
noise from its sub-env's seed. Keeping the read in one module means an SB3
upgrade that renames it breaks one function, found by its test.
"""

from __future__ import annotations

from typing import Any

__all__ = ["pending_reset_seeds"]


def pending_reset_seeds(venv: Any) -> list[int | None]:
    """The seeds the innermost SB3 ``VecEnv`` under ``venv`` passes at its coming reset.

    Args:
        venv: An SB3 ``VecEnv``, possibly wrapped by ``VecEnvWrapper`` s.

    Returns:
        One seed per sub-env; ``None`` for each when no seed is pending.

    Example:
        >>> from stable_baselines3.common.env_util import make_vec_env
        >>> pending_reset_seeds(make_vec_env("CartPole-v1", n_envs=2, seed=5))
        [5, 6]
    """
    from stable_baselines3.common.vec_env import VecEnvWrapper

    base = venv
    while isinstance(base, VecEnvWrapper):
        base = base.venv
    seeds = getattr(base, "_seeds", None)
    return [None] * venv.num_envs if seeds is None else list(seeds)
