"""Bad options fail at construction with clear messages; noise is logged and clock-driven."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sb3_contrib import QRDQN
from stable_baselines3 import DQN, PPO, SAC, TD3
from stable_baselines3.common.logger import KVWriter, Logger

from rlnoise.core.clock import NoiseSource
from rlnoise.policies import (
    NoisyActorCriticPolicy,
    NoisyDQNPolicy,
    NoisySACPolicy,
    NoisyTD3Policy,
)


def ppo(**policy_kwargs: Any) -> PPO:
    return PPO(
        NoisyActorCriticPolicy,
        "CartPole-v1",
        n_steps=32,
        batch_size=32,
        n_epochs=1,
        policy_kwargs={"net_arch": [8], **policy_kwargs},
        seed=0,
        device="cpu",
    )


def test_where_matching_nothing_names_the_pattern_and_lists_parameters() -> None:
    with pytest.raises(ValueError) as error:
        ppo(weight_noise="gaussian:0.1,where=actor.*")
    message = str(error.value)
    assert "weight_noise.where pattern 'actor.*' matches no parameter" in message
    assert "mlp_extractor.policy_net.0.weight" in message and "action_net.bias" in message


def test_where_for_modules_and_noisy_layers() -> None:
    with pytest.raises(ValueError, match=r"activation_noise.where pattern 'pi\.\*'.*policy_net\.1"):
        ppo(activation_noise={"kind": "gaussian", "where": ["pi.*"]})
    with pytest.raises(ValueError, match=r"noisy_net.where pattern 'head' matches no linear layer"):
        ppo(noisy_net={"where": ["head"]})


def test_where_can_name_biases_and_single_layers() -> None:
    model = ppo(
        weight_noise="gaussian:0.1,where=*.bias",
        activation_noise=None,
        noisy_net={"where": ["action_net"]},
    )
    assert model.policy.noise_injectors["weight_noise"].names == [
        "mlp_extractor.policy_net.0.bias",
        "mlp_extractor.value_net.0.bias",
        "value_net.bias",
    ]  # action_net became noisy: its mean is not an nn.Linear bias any more
    assert model.policy.noise_injectors["noisy_net"].names["online"] == ["action_net"]


def test_param_noise_for_ppo_lists_the_combinations_that_work() -> None:
    with pytest.raises(ValueError) as error:
        ppo(param_noise="gaussian:0.1")
    message = str(error.value)
    assert "not available for PPO/A2C" in message
    for combination in ("DQN with Discrete", "SAC with Box", "TD3 or DDPG with Box"):
        assert combination in message


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weight_noise": "salt_pepper:0.1"}, "makes no sense for weights"),
        ({"noisy_net": {"colour": "red"}}, "unknown key 'colour' in noisy_net"),
        ({"noisy_net": "yes"}, "noisy_net must be"),
        ({"layer_norm": "yes"}, "layer_norm must be"),
        (
            {"weight_noise": "gaussian:0.1,resample=step,phases=rollout+train"},
            "resampled per 'rollout'",
        ),
        ({"noisy_net": {"resample": "episode"}, "weight_noise": None}, "resampled per 'rollout'"),
        ({"net_arch": [], "weight_noise": None}, "no hidden activation layers"),
        ({"noise_seed": "x"}, "noise_seed must be an integer, got 'x'"),
    ],
)
def test_bad_policy_options(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ppo(**kwargs)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DQN(NoisyActorCriticPolicy, "CartPole-v1", device="cpu"), "use NoisyDQNPolicy"),
        (lambda: PPO(NoisyDQNPolicy, "CartPole-v1", device="cpu"), "use NoisyActorCriticPolicy"),
        (lambda: PPO(NoisySACPolicy, "Pendulum-v1", device="cpu"), "use NoisyActorCriticPolicy"),
        (lambda: TD3(NoisySACPolicy, "Pendulum-v1", device="cpu"), "use NoisyTD3Policy"),
        (lambda: SAC(NoisyTD3Policy, "Pendulum-v1", device="cpu"), "use NoisySACPolicy"),
        (lambda: QRDQN(NoisyDQNPolicy, "CartPole-v1", device="cpu"), "has no noisy policy"),
    ],
    ids=["dqn-ac", "ppo-dqn", "ppo-sac", "td3-sac", "sac-td3", "qrdqn-dqn"],
)
def test_a_policy_built_for_another_algorithm_is_refused_by_name(make: Any, message: str) -> None:
    # Not an AttributeError/TypeError from inside SB3: the error names policy and algorithm.
    with pytest.raises(ValueError, match=rf"does not work with [A-Z0-9]+, .*{message}"):
        make()


def test_off_policy_noisynet_resampling_is_the_papers() -> None:
    with pytest.raises(ValueError, match="resample must be unset or 'step'"):
        DQN(
            NoisyDQNPolicy,
            "CartPole-v1",
            policy_kwargs={"noisy_net": {"resample": "episode"}},
            device="cpu",
        )


class Capture(KVWriter):
    """An SB3 output format that keeps what is dumped."""

    def __init__(self) -> None:
        self.dumps: list[dict[str, Any]] = []

    def write(
        self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0
    ) -> None:
        self.dumps.append(dict(key_values))


@pytest.mark.parametrize(
    ("make", "keys"),
    [
        (
            lambda: ppo(noisy_net=True, weight_noise="gaussian:0.01,where=*.mu"),
            {"noise/weight_noise", "noise/activation_noise", "noise/noisy_net_sigma"},
        ),
        (
            lambda: SAC(
                NoisySACPolicy,
                "Pendulum-v1",
                learning_starts=16,
                batch_size=16,
                policy_kwargs={"net_arch": [8]},
                seed=0,
                device="cpu",
            ),
            {"noise/param_noise", "noise/param_noise_target", "noise/param_noise_distance"},
        ),
    ],
    ids=["ppo", "sac"],
)
def test_noise_is_logged_to_sb3_without_user_action(make: Any, keys: set[str]) -> None:
    model = make()
    capture = Capture()
    model.set_logger(Logger(folder=None, output_formats=[capture]))
    model.learn(256, log_interval=1)
    logged = set().union(*(d.keys() for d in capture.dumps))
    assert keys <= logged
    # The values are the policy's own: what it reports now (the scales set by the specs do
    # not move in these runs), and finite.
    last = {key: [d[key] for d in capture.dumps if key in d][-1] for key in keys}
    now = {f"noise/{key}": value for key, value in model.policy.noise_logs().items()}
    fixed = {"noise/weight_noise", "noise/param_noise_target"}
    assert {k: v for k, v in last.items() if k in fixed} == {k: now[k] for k in keys & fixed}
    assert all(math.isfinite(v) for v in last.values())


def test_policy_is_a_noise_source_following_an_outside_clock() -> None:
    schedule = {"type": "linear", "start": 1.0, "end": 0.0, "steps": 1000}
    model = ppo(weight_noise={"kind": "gaussian", "scale": 0.2, "schedule": schedule})
    policy = model.policy
    assert isinstance(policy, NoiseSource)
    model.learn(64)
    assert policy.noise_scales()["weight_noise"] == pytest.approx(0.2 * (1 - 64 / 1000))
    policy.set_noise_step(500)
    assert policy.noise_scales()["weight_noise"] == pytest.approx(0.1)
    model.learn(64, reset_num_timesteps=False)
    assert policy.noise_scales()["weight_noise"] == pytest.approx(0.1)  # outside clock wins


def test_layer_norm_scopes() -> None:
    from torch import nn

    def norms(policy: Any) -> set[str]:
        return {
            n.rsplit(".", 1)[0] for n, m in policy.named_modules() if isinstance(m, nn.LayerNorm)
        }

    default = SAC(NoisySACPolicy, "Pendulum-v1", policy_kwargs={"net_arch": [8, 8]}, device="cpu")
    assert norms(default.policy) == {"actor.latent_pi"}  # the perturbed network only
    full = SAC(
        NoisySACPolicy,
        "Pendulum-v1",
        policy_kwargs={"net_arch": [8, 8], "layer_norm": True},
        device="cpu",
    )
    assert {"actor.latent_pi", "critic.qf0", "critic.qf1", "critic_target.qf0"} <= norms(
        full.policy
    )
    plain = SAC(
        NoisySACPolicy,
        "Pendulum-v1",
        policy_kwargs={"net_arch": [8], "param_noise": None},
        device="cpu",
    )
    assert norms(plain.policy) == set()
    with pytest.raises(ValueError, match="layer_norm must be"):
        SAC(NoisySACPolicy, "Pendulum-v1", policy_kwargs={"layer_norm": "critic"}, device="cpu")


def test_repr_lists_the_noise_sources_above_the_network() -> None:
    lines = repr(ppo(weight_noise="gaussian:0.05,mode=multiplicative").policy).splitlines()
    assert lines[1].startswith("  (noise) WeightNoise(gaussian:0.05,mode=multiplicative, fresh")
    assert lines[2].startswith("  (noise) ActivationNoise(gaussian:0.05, phases=train")
    assert "(mlp_extractor)" in "\n".join(lines[3:])
    plain = repr(ppo(weight_noise=None, activation_noise=None).policy).splitlines()
    assert not any("(noise)" in line for line in plain)
