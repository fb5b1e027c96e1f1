"""The options types stay in step with the constructors of the components they describe."""

from __future__ import annotations

import importlib
import inspect

import pytest

import rlnoise.callbacks
import rlnoise.envs
import rlnoise.wrappers
from rlnoise.experiments.options import COMPONENT_OPTIONS, NoisyPolicyOptions, options_for
from rlnoise.policies import (
    NoisyActorCriticPolicy,
    NoisyDQNPolicy,
    NoisySACPolicy,
    NoisyTD3Policy,
)

#: Constructor arguments a config cannot give: passed by rlnoise, or objects YAML cannot write.
NOT_FROM_CONFIG = {"self", "env", "extra_sources"}


def _keywords(function: object) -> set[str]:
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in parameters if p.kind in named} - NOT_FROM_CONFIG


@pytest.mark.parametrize("path", sorted(COMPONENT_OPTIONS))
def test_each_options_type_lists_exactly_its_component_keywords(path: str) -> None:
    module, _, name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    assert set(COMPONENT_OPTIONS[path].model_fields) == _keywords(cls.__init__)
    assert options_for(cls) is COMPONENT_OPTIONS[path]


def test_every_public_rlnoise_wrapper_and_callback_a_config_can_name_has_an_options_type() -> None:
    import gymnasium as gym
    from stable_baselines3.common.callbacks import BaseCallback

    for package, base in (
        (rlnoise.wrappers, gym.Wrapper),
        (rlnoise.envs, gym.Wrapper),
        (rlnoise.callbacks, BaseCallback),
    ):
        for name in package.__all__:
            cls = getattr(package, name)
            if inspect.isclass(cls) and issubclass(cls, base):
                assert options_for(cls) is not None, f"{package.__name__}.{name} has no options"


@pytest.mark.parametrize(
    "policy", [NoisyActorCriticPolicy, NoisyDQNPolicy, NoisySACPolicy, NoisyTD3Policy]
)
def test_noisy_policy_options_are_the_policy_noise_keywords(policy: type) -> None:
    keyword_only = {
        p.name
        for p in inspect.signature(policy.__init__).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    # Selective noise injection is the PPO/A2C policy's own keyword.
    on_policy_only = set() if policy is NoisyActorCriticPolicy else {"sni_lambda"}
    assert set(NoisyPolicyOptions.model_fields) - on_policy_only == keyword_only
