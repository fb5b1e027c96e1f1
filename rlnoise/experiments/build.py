"""Build what an experiment config describes: its training env, SB3 objects, the versions.

Errors of the libraries that build them (SB3's assertions, a wrapper's
``TypeError``) become one-line ``ValueError``s that say what was being built.

Example:
    >>> check_env_id("CartPole-v1")
    >>> check_env_id("CartPol-v1")
    Traceback (most recent call last):
    ...
    ValueError: env.id 'CartPol-v1' is not a registered Gymnasium environment
"""

from __future__ import annotations

import platform
from typing import Any

from rlnoise.experiments.config import ExperimentConfig
from rlnoise.runs.env import WrapperChain

__all__ = ["check_env_id", "from_config", "make_training_env", "versions"]


def make_training_env(config: ExperimentConfig, seed: int) -> Any:
    """The SB3 VecEnv a run trains on: make_vec_env + wrappers (+ VecNormalize)."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    check_env_id(config.env.id)
    venv = make_vec_env(
        config.env.id,
        n_envs=config.env.n_envs,
        seed=seed,
        env_kwargs=dict(config.env.kwargs),
        wrapper_class=WrapperChain(config.env.wrappers) if config.env.wrappers else None,
        vec_env_cls=SubprocVecEnv if config.env.vec_env == "subproc" else DummyVecEnv,
    )
    if config.env.normalize:
        options = {} if config.env.normalize is True else dict(config.env.normalize)
        venv = VecNormalize(venv, **options)
    return venv


def check_env_id(env_id: str) -> None:
    """Raise ``ValueError`` unless ``env_id`` is a registered Gymnasium environment."""
    import importlib

    import gymnasium as gym

    module, _, name = env_id.rpartition(":")
    if module:  # gym.make's "module:EnvId": importing the module registers its envs
        try:
            importlib.import_module(module)
        except ImportError:
            raise ValueError(
                f"env.id {env_id!r} needs the module {module!r}, which is not installed "
                f"(pip install {module})"
            ) from None
    if name not in gym.registry:
        raise ValueError(f"env.id {env_id!r} is not a registered Gymnasium environment")


def versions() -> dict[str, str]:
    """The versions of the packages a run is trained with (recorded in ``done.json``)."""
    import gymnasium
    import stable_baselines3
    import torch

    import rlnoise

    return {
        "rlnoise": rlnoise.__version__,
        "stable_baselines3": stable_baselines3.__version__,
        "gymnasium": gymnasium.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def from_config(what: str, build: Any) -> Any:
    """Build something the config describes; its construction errors are config errors.

    SB3 and the wrappers reject bad settings with assertions and ``TypeError``s;
    they become a one-line ``ValueError`` that says what was being built.
    """
    try:
        return build()
    except ValueError:
        raise
    except (AssertionError, TypeError, KeyError) as error:
        raise ValueError(f"cannot build the {what} from the config: {error}") from error
