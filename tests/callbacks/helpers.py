"""Test doubles that are real objects: a recording SGD, and noise sources over real envs/policies.

Module level (not inside test files) so that SubprocVecEnv workers and
``model.save``/``load`` can import them by name.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import KVWriter
from stable_baselines3.common.policies import ActorCriticPolicy

from rlnoise.core.spec import NoiseSpec, as_noise_spec

# A schedule that changes at every step, so any disagreement between sources shows.
SPEC = NoiseSpec.from_dict(
    {"kind": "gaussian", "scale": 0.2, "schedule": {"type": "linear", "steps": 1000}}
)


def flat(tensors: list[torch.Tensor | None]) -> torch.Tensor:
    """All tensors of a list as one vector (``None``: no gradient, skipped; may be empty)."""
    return torch.cat([t.reshape(-1) for t in tensors if t is not None] or [torch.empty(0)])


class SpySGD(torch.optim.SGD):
    """Plain SGD that records the gradients at three moments of every update.

    ``raw``: as ``backward()`` wrote them (its post-accumulate-grad hooks are
    registered before anyone else's); ``clean``: when ``step()`` is called, before
    any other step pre-hook (SB3 has clipped by then); ``seen``: what the step
    itself applies.
    """

    def __init__(self, params: Any, **kwargs: Any):
        super().__init__(params, **kwargs)
        self.tracked = [p for group in self.param_groups for p in group["params"]]
        self.raw: list[torch.Tensor] = []
        self.clean: list[torch.Tensor] = []
        self.seen: list[torch.Tensor] = []
        self._raw_now: dict[int, torch.Tensor] = {}
        for index, param in enumerate(self.tracked):
            param.register_post_accumulate_grad_hook(self._raw_hook(index))
        self.register_step_pre_hook(self._before_others)

    def _raw_hook(self, index: int) -> Any:
        def record(param: torch.Tensor) -> None:
            assert param.grad is not None
            self._raw_now[index] = param.grad.detach().clone()

        return record

    def _grads(self) -> torch.Tensor:
        return flat([p.grad.detach().clone() if p.grad is not None else None for p in self.tracked])

    def _before_others(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.raw.append(flat([self._raw_now.get(i) for i in range(len(self.tracked))]))
        self._raw_now = {}
        self.clean.append(self._grads())

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        self.seen.append(self._grads())
        # torch wraps each optimizer class's step once, with the runner of the step hooks;
        # once any plain SGD exists, SGD.step is wrapped too and super().step() would run
        # every hook a second time. Call the unwrapped SGD step: hooks run once, here.
        sgd_step = torch.optim.SGD.step
        if getattr(sgd_step, "hooked", False):
            sgd_step = sgd_step.__wrapped__  # type: ignore[attr-defined]
        return sgd_step(self, closure)


class ScheduledWrapper(gym.Wrapper):
    """Observation-noise stand-in: counts its own steps until an outside clock takes over."""

    def __init__(self, env: gym.Env, spec: Any = SPEC):
        super().__init__(env)
        self.spec_ = as_noise_spec(spec)
        self.noise_t = 0
        self.local_clock = True

    def step(self, action: Any) -> Any:
        if self.local_clock:
            self.noise_t += 1
        return self.env.step(action)

    def set_noise_step(self, step: int) -> None:
        self.local_clock = False
        self.noise_t = int(step)

    def noise_scales(self) -> dict[str, float]:
        return {"obs": float(self.spec_.scale) * self.spec_.schedule(self.noise_t)}


class ScheduledPolicy(ActorCriticPolicy):
    """Policy-noise stand-in: counts its own forward passes until an outside clock takes over."""

    def __init__(self, *args: Any, spec: Any = SPEC, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.spec_ = as_noise_spec(spec)
        self.noise_t = 0
        self.local_clock = True

    def forward(self, obs: torch.Tensor, deterministic: bool = False) -> Any:
        if self.local_clock:
            self.noise_t += 1
        return super().forward(obs, deterministic)

    def set_noise_step(self, step: int) -> None:
        self.local_clock = False
        self.noise_t = int(step)

    def noise_scales(self) -> dict[str, float]:
        return {"weight": float(self.spec_.scale) * self.spec_.schedule(self.noise_t)}


class Probe(BaseCallback):
    """Runs after the callbacks under test and records what they set up.

    At training start: each hooked optimizer's generator state (to replay the
    draws) and names; at each rollout end: step pre-hook counts per optimizer and
    whatever ``record`` returns.
    """

    def __init__(self, noise: Any = None, record: Any = None):
        super().__init__()
        self.noise = noise
        self.record = record
        self.states: dict[str, torch.Tensor] = {}
        self.names: list[str] = []
        self.hook_counts: list[dict[str, int]] = []
        self.records: list[Any] = []

    def _on_training_start(self) -> None:
        if self.noise is not None:
            self.names = list(self.noise.optimizer_names)
            self.states = {n: self.noise.generator(n).get_state().clone() for n in self.names}

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        from rlnoise.callbacks._model import find_optimizers

        self.hook_counts.append(
            {n: len(o._optimizer_step_pre_hooks) for n, o in find_optimizers(self.model)}
        )
        if self.record is not None:
            self.records.append(self.record(self))


class Capture(KVWriter):
    """An SB3 logger output that keeps every dump (key -> value) in memory."""

    def __init__(self) -> None:
        self.dumps: list[dict[str, Any]] = []
        self.steps: list[int] = []

    def write(self, key_values: dict[str, Any], key_excluded: Any, step: int = 0) -> None:
        self.dumps.append(dict(key_values))
        self.steps.append(step)

    def close(self) -> None:
        pass


def real_noise_wrappers(env: gym.Env) -> gym.Env:
    """rlnoise's own wrappers, stacked: observation noise inside random-action replacement."""
    from rlnoise.wrappers import ObservationNoise, RandomActionReplacement

    return RandomActionReplacement(ObservationNoise(env, SPEC), 0.5, schedule=SPEC.schedule)
