"""Finding every rlnoise noise source in a training set-up, by protocol only.

A noise source is any object whose class has ``set_noise_step`` and
``noise_scales`` (:class:`rlnoise.core.clock.NoiseSource`). Sources are found,
never imported by class:

- SB3 ``VecEnvWrapper``\\ s in the model's vector-env chain (for example a
  vectorised observation-noise wrapper, before or after ``VecNormalize``);
- Gymnasium wrappers inside the sub-environments. In a ``DummyVecEnv`` every
  wrapper of every sub-env's chain is reached directly; in a ``SubprocVecEnv``
  (or any other VecEnv) the worker is reached through
  ``VecEnv.env_method("set_noise_step", ...)``, which resolves the name with
  Gymnasium's ``get_wrapper_attr`` and so calls the OUTERMOST wrapper that has
  it. A chain holding several noise wrappers is driven completely in a worker
  only if each forwards the step to the noise sources it wraps;
- the policy, or, if the policy is not itself a source, its top-most
  sub-modules that are (the policy is responsible for what it contains);
- attributes of the algorithm that are sources (e.g. an ``action_noise``);
- callbacks that register themselves for the duration of ``learn()``
  (:func:`register_training_source`), such as the gradient-noise callback.

The class-level check matters: SB3's ``VecEnvWrapper.__getattr__`` forwards
unknown names to the wrapped VecEnv, so an ``isinstance(obj, NoiseSource)``
test on a plain ``VecNormalize`` would claim the methods of a noise wrapper
beneath it.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, cast

import gymnasium as gym
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper

from rlnoise.core.clock import NoiseSource

__all__ = [
    "NoiseSources",
    "find_noise_sources",
    "is_noise_source",
    "register_training_source",
    "training_sources",
    "unregister_training_source",
]

# Sources that exist only while a model trains (callbacks), keyed weakly by the model.
_TRAINING_SOURCES: weakref.WeakKeyDictionary[Any, list[NoiseSource]] = weakref.WeakKeyDictionary()


def is_noise_source(obj: Any) -> bool:
    """True when ``obj``'s class implements ``set_noise_step`` and ``noise_scales``.

    Example:
        >>> class Scaled:
        ...     def set_noise_step(self, step): pass
        ...     def noise_scales(self): return {"obs": 0.1}
        >>> is_noise_source(Scaled()), is_noise_source(object())
        (True, False)
    """
    cls = type(obj)
    return callable(getattr(cls, "set_noise_step", None)) and callable(
        getattr(cls, "noise_scales", None)
    )


def register_training_source(model: Any, source: NoiseSource) -> None:
    """Make ``source`` visible to the shared clock of ``model`` until unregistered."""
    sources = _TRAINING_SOURCES.setdefault(model, [])
    if not any(existing is source for existing in sources):
        sources.append(source)


def unregister_training_source(model: Any, source: NoiseSource) -> None:
    """Undo :func:`register_training_source` (no error if it was not registered)."""
    sources = _TRAINING_SOURCES.get(model)
    if sources is not None:
        sources[:] = [existing for existing in sources if existing is not source]


def training_sources(model: Any) -> list[NoiseSource]:
    """The sources currently registered for ``model`` (a copy)."""
    return list(_TRAINING_SOURCES.get(model, ()))


def live_training_sources(model: Any) -> list[NoiseSource]:
    """The registry's own list for ``model``: it changes as sources come and go.

    Held by the shared clock for the length of ``learn()``, so a step costs no lookup.
    """
    return _TRAINING_SOURCES.setdefault(model, [])


@dataclass
class NoiseSources:
    """Where a model's noise lives.

    Attributes:
        local: ``(log prefix, source)`` pairs reachable in this process.
        remote: ``(log prefix, VecEnv)`` pairs whose sub-environments (in worker
            processes) hold sources, reached with ``env_method``.
    """

    local: list[tuple[str, NoiseSource]] = field(default_factory=list)
    remote: list[tuple[str, VecEnv]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.local) + len(self.remote)


def _env_chain(env: gym.Env) -> Iterable[gym.Env]:
    current: Any = env
    while isinstance(current, gym.Env):
        yield current
        current = current.env if isinstance(current, gym.Wrapper) else None


def _add_vec_env(found: NoiseSources, seen: set[int], venv: VecEnv, prefix: str) -> None:
    current: Any = venv
    while isinstance(current, VecEnvWrapper):
        if is_noise_source(current) and id(current) not in seen:
            seen.add(id(current))
            found.local.append((f"{prefix}vec_env", current))
        current = current.venv
    if isinstance(current, DummyVecEnv):
        for sub_env in current.envs:
            for layer in _env_chain(sub_env):
                if is_noise_source(layer) and id(layer) not in seen:
                    seen.add(id(layer))
                    found.local.append((f"{prefix}env", cast(NoiseSource, layer)))
    elif (
        isinstance(current, VecEnv)
        and id(current) not in seen
        and current.has_attr("set_noise_step")
        and current.has_attr("noise_scales")
    ):
        seen.add(id(current))
        found.remote.append((f"{prefix}env", current))


def _add_policy(found: NoiseSources, seen: set[int], policy: Any) -> None:
    if is_noise_source(policy) and id(policy) not in seen:
        found.local.append(("policy", policy))
    elif isinstance(policy, torch.nn.Module):
        owners: list[str] = []
        for name, module in policy.named_modules():
            if any(name.startswith(owner + ".") for owner in owners):
                continue  # a source module drives what it contains
            if is_noise_source(module) and id(module) not in seen:
                owners.append(name)
                found.local.append((f"policy/{name}", module))
    seen.add(id(policy))
    if isinstance(policy, torch.nn.Module):
        # The policy's modules are also attributes of the algorithm (SAC's ``actor``):
        # they are the policy's to drive, never a second time as the model's.
        seen.update(id(module) for module in policy.modules())


def find_noise_sources(model: Any, extra: Iterable[Any] = ()) -> NoiseSources:
    """Every noise source of ``model``'s training set-up, each once.

    Args:
        model: An SB3 algorithm.
        extra: More sources, or more VecEnvs to search (e.g. an evaluation env).

    Example:
        >>> from stable_baselines3 import PPO
        >>> len(find_noise_sources(PPO("MlpPolicy", "CartPole-v1", device="cpu")))
        0
    """
    found = NoiseSources()
    seen: set[int] = set()
    env = model.get_env() if hasattr(model, "get_env") else None
    if env is not None:
        _add_vec_env(found, seen, env, "")
    _add_policy(found, seen, getattr(model, "policy", None))
    for name, value in vars(model).items():
        if name not in ("env", "policy") and is_noise_source(value) and id(value) not in seen:
            seen.add(id(value))
            found.local.append((name, value))
    for index, item in enumerate(extra):
        if isinstance(item, VecEnv):
            _add_vec_env(found, seen, item, f"extra{index}/")
        elif is_noise_source(item):
            if id(item) not in seen:
                seen.add(id(item))
                found.local.append((f"extra{index}", item))
        else:
            raise ValueError(
                f"extra_sources[{index}] must be a VecEnv or have set_noise_step and "
                f"noise_scales, got {type(item).__name__}"
            )
    return found
