"""``DynamicsLogCallback``: the dynamics each finished episode was played with, to the logger.

:class:`rlnoise.wrappers.DomainRandomization` reports an episode's parameter
values in the ``info`` of its last step (``info["dynamics"]``). This callback
reads them from SB3's ``infos`` and records their mean over the episodes that
ended since the last dump as ``dynamics/NAME`` (TensorBoard, CSV, stdout: the
logger's outputs). It knows the wrapper only by that key, so it works for
sub-envs in any ``VecEnv`` (``SubprocVecEnv`` included: ``infos`` cross the pipe).

Example:
    >>> from stable_baselines3 import PPO
    >>> from stable_baselines3.common.env_util import make_vec_env
    >>> from rlnoise.wrappers import DomainRandomization
    >>> venv = make_vec_env("CartPole-v1", n_envs=2, seed=0, wrapper_class=DomainRandomization,
    ...                     wrapper_kwargs={"parameters": {"length": "uniform:0.2"}})
    >>> model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, device="cpu")
    >>> callback = DynamicsLogCallback()
    >>> _ = model.learn(128, callback=callback)
    >>> sorted(callback.last_values)
    ['length']
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

__all__ = ["DynamicsLogCallback"]


class DynamicsLogCallback(BaseCallback):
    """Logs the mean of each randomised dynamics parameter over finished episodes.

    Args:
        key: The ``info`` key the parameters are under.
        prefix: The logger key prefix (``dynamics/length``).
        verbose: SB3 verbosity.

    Attributes:
        last_values: The values of the last episode that ended (name -> value).
    """

    def __init__(self, key: str = "dynamics", prefix: str = "dynamics", verbose: int = 0):
        super().__init__(verbose)
        self.key = key
        self.prefix = prefix
        self.last_values: dict[str, float] = {}

    def _on_step(self) -> bool:
        infos: Any = self.locals.get("infos") or ()
        dones: Any = self.locals.get("dones")
        for index, info in enumerate(infos):
            if dones is not None and not dones[index]:
                continue
            values = info.get(self.key)
            if not values:
                continue
            for name, value in values.items():
                self.logger.record_mean(f"{self.prefix}/{name}", float(value))
            self.last_values = dict(values)
        return True
