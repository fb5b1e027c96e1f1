"""The binder: which algorithm a policy serves, and the events it feeds the noise control."""

from __future__ import annotations

import ast
import copy
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sb3_contrib import TRPO
from stable_baselines3 import A2C, DDPG, DQN, PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import ReplayBuffer, RolloutBuffer
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.vec_env import (
    DummyVecEnv,
    SubprocVecEnv,
    VecEnv,
    VecEnvWrapper,
    VecNormalize,
)
from stable_baselines3.dqn.policies import DQNPolicy
from stable_baselines3.sac.policies import SACPolicy
from stable_baselines3.td3.policies import TD3Policy

import rlnoise
from rlnoise.policies import NoisyActorCriticPolicy, NoisyDQNPolicy

SMALL = {"net_arch": [16]}


class BuildsAPolicy(BaseCallback):
    """A callback that builds a noisy DQN policy of its own during learn()."""

    def __init__(self) -> None:
        super().__init__()
        self.built: Any = None

    def _on_step(self) -> bool:
        if self.built is None:
            model = self.model
            self.built = NoisyDQNPolicy(
                model.observation_space, model.action_space, lambda _: 1e-3, **SMALL
            )
        return True


def test_a_policy_built_by_a_callback_during_learn_is_not_bound_to_the_training_model() -> None:
    # Only the direct caller of the policy class counts: the callback, not the DQN
    # further up the stack, which must keep its epsilon-greedy exploration.
    model = DQN("MlpPolicy", "CartPole-v1", learning_starts=0, policy_kwargs=SMALL, device="cpu")
    callback = BuildsAPolicy()
    model.learn(8, callback=callback)
    assert (model.exploration_initial_eps, model.exploration_final_eps) == (1.0, 0.05)
    assert callback.built.bound_algorithm is None


def test_the_binding_follows_the_model_through_load_copies_and_pickle(tmp_path: Path) -> None:
    model = DQN(NoisyDQNPolicy, "CartPole-v1", learning_starts=0, policy_kwargs=SMALL, device="cpu")
    assert model.policy.bound_algorithm is model
    model.learn(16)
    model.save(tmp_path / "dqn.zip")
    loaded = DQN.load(tmp_path / "dqn.zip", env=model.get_env(), device="cpu")
    assert loaded.policy.bound_algorithm is loaded
    loaded.learn(16, reset_num_timesteps=False)
    assert loaded.num_timesteps == 32
    assert loaded.policy.noise_control.step == loaded.num_timesteps  # the clock is the model's
    # A policy copied alone serves the original; a pickled one comes back unbound.
    assert copy.deepcopy(model.policy).bound_algorithm is model
    restored = pickle.loads(pickle.dumps(model.policy))
    assert restored.bound_algorithm is None
    restored.predict(np.zeros((1, 4), np.float32))
    assert restored.noise_phase == "eval"
    restored.attach(loaded)
    assert restored.bound_algorithm is loaded
    assert restored.noise_control.step == loaded.num_timesteps
    with pytest.raises(ValueError, match="attach needs an SB3 algorithm, got str"):
        restored.attach("model")  # type: ignore[arg-type]


def test_a_policy_built_by_hand_is_unbound_and_counts_its_own_steps() -> None:
    env = make_vec_env("CartPole-v1", n_envs=1, seed=0)
    policy = NoisyActorCriticPolicy(
        env.observation_space, env.action_space, lambda _: 1e-3, noise_seed=0, **SMALL
    )
    assert policy.bound_algorithm is None
    policy.set_training_mode(False)
    with torch.no_grad():
        policy(torch.zeros(3, 4))  # an acting call of 3 rows, with no algorithm
    assert policy.noise_phase == "rollout" and policy.noise_control.step == 3


def test_an_sb3_contrib_algorithm_binds_its_noisy_policy() -> None:
    model = TRPO(
        NoisyActorCriticPolicy,
        "CartPole-v1",
        n_steps=64,
        batch_size=32,
        policy_kwargs={**SMALL, "noisy_net": True, "weight_noise": None},
        seed=0,
        device="cpu",
    )
    assert model.policy.bound_algorithm is model
    events: list[str] = []
    model.policy.noise_control.add_listener(events.append)
    model.learn(128)
    assert model.policy.noise_control.step == model.num_timesteps == 128
    assert (events.count("rollout"), events.count("step"), events.count("train")) == (2, 128, 2)


class Dones(BaseCallback):
    """Records, per env step, whether any episode ended."""

    def __init__(self) -> None:
        super().__init__()
        self.dones: list[bool] = []

    def _on_step(self) -> bool:
        self.dones.append(bool(np.any(self.locals["dones"])))
        return True


def test_ppo_learn_feeds_rollout_step_episode_train_and_update_events() -> None:
    model = PPO(
        NoisyActorCriticPolicy,
        "CartPole-v1",
        n_steps=32,
        batch_size=16,
        n_epochs=2,
        policy_kwargs=dict(SMALL),
        seed=1,
        device="cpu",
    )
    events: list[str] = []
    model.policy.noise_control.add_listener(events.append)
    dones = Dones()
    model.learn(96, callback=dones)
    # Each acting step after an episode ended (and the very first) starts an episode.
    episodes = 1 + sum(dones.dones[:-1])
    assert sum(dones.dones[:-1]) >= 2  # the run crosses episode boundaries
    counts = {event: events.count(event) for event in ("rollout", "step", "episode", "train")}
    assert counts == {"rollout": 3, "step": 96, "episode": episodes, "train": 3}
    assert events.count("update") == 3 * 2 * 2  # rollouts x epochs x minibatches


def test_dqn_learn_feeds_a_step_per_acting_call_and_an_episode_per_episode() -> None:
    model = DQN(
        NoisyDQNPolicy,
        "CartPole-v1",
        learning_starts=0,
        train_freq=4,
        policy_kwargs=dict(SMALL),
        seed=0,
        device="cpu",
    )
    events: list[str] = []
    model.policy.noise_control.add_listener(events.append)
    dones = Dones()
    model.learn(96, callback=dones)
    assert events.count("step") == 96
    assert events.count("episode") == 1 + sum(dones.dones[:-1]) >= 3
    assert events.count("update") == 96 // 4


EPISODE_WEIGHT_NOISE = "gaussian:0.05,resample=episode,phases=rollout"


@pytest.mark.parametrize("vec_env_cls", [DummyVecEnv, SubprocVecEnv])
def test_subprocess_envs_train_exactly_as_in_process_envs(vec_env_cls: Any) -> None:
    # Everything the binder reads lives on the algorithm, in this process.
    def final_parameters(cls: Any) -> list[torch.Tensor]:
        kwargs = {"start_method": "fork"} if cls is SubprocVecEnv else None
        env = make_vec_env("CartPole-v1", n_envs=2, seed=1, vec_env_cls=cls, vec_env_kwargs=kwargs)
        model = PPO(
            NoisyActorCriticPolicy,
            env,
            n_steps=32,
            batch_size=32,
            n_epochs=1,
            policy_kwargs={**SMALL, "weight_noise": EPISODE_WEIGHT_NOISE},
            seed=0,
            device="cpu",
        )
        model.learn(128)
        env.close()
        return [p.detach().clone() for p in model.policy.parameters()]

    reference = final_parameters(DummyVecEnv)
    assert all(
        torch.equal(a, b) for a, b in zip(reference, final_parameters(vec_env_cls), strict=True)
    )


# -- one module touches SB3's internals ------------------------------------------------
BINDER = Path(rlnoise.__file__).parent / "policies" / "binder.py"
# The wrappers sit below the policies and cannot import the binder: their one read of
# SB3's internals (the seeds a VecEnv passes at its next reset) has its own module.
ELSEWHERE = {("wrappers/_sb3.py", "_seeds")}


def sb3_private_names() -> set[str]:
    """Private attribute names of SB3's algorithms, policies, envs, buffers, callbacks, logger."""
    models: list[BaseAlgorithm] = [
        PPO("MlpPolicy", "CartPole-v1", device="cpu"),
        DQN("MlpPolicy", "CartPole-v1", device="cpu"),
        SAC("MlpPolicy", "Pendulum-v1", device="cpu"),
    ]
    for model in models:
        model.learn(0)  # sets the logger and the rest of what learn() adds
    objects: list[Any] = [*models, *(m.policy for m in models), *(m.get_env() for m in models)]
    classes: list[type] = [
        BaseAlgorithm,
        OnPolicyAlgorithm,
        OffPolicyAlgorithm,
        PPO,
        A2C,
        DQN,
        SAC,
        TD3,
        DDPG,
        BasePolicy,
        ActorCriticPolicy,
        DQNPolicy,
        SACPolicy,
        TD3Policy,
        VecEnv,
        VecEnvWrapper,
        DummyVecEnv,
        SubprocVecEnv,
        VecNormalize,
        BaseCallback,
        RolloutBuffer,
        ReplayBuffer,
        Logger,
    ]
    names = {n for obj in objects for n in vars(obj)} | {n for cls in classes for n in dir(cls)}
    torch_own = set(dir(torch.nn.Module)) | set(vars(torch.nn.Module()))
    return {n for n in names - torch_own if n.startswith("_") and not n.startswith("__")}


def private_reads(tree: ast.AST, private: set[str]) -> set[str]:
    """Private names read off other objects (not ``self``/``cls``/``super()``), or as strings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            owner = node.value
            own = isinstance(owner, ast.Name) and owner.id in ("self", "cls")
            parent = isinstance(owner, ast.Call) and getattr(owner.func, "id", None) == "super"
            if node.attr in ("_getframe", "f_locals") or (
                node.attr in private and not own and not parent
            ):
                found.add(node.attr)
        elif isinstance(node, ast.Constant) and node.value in private:
            found.add(node.value)
    return found


def test_only_the_binder_reads_sb3_internals_or_the_call_stack() -> None:
    private = sb3_private_names()
    assert {"_last_obs", "_episode_num", "_logger", "_get_torch_save_params"} <= private
    package = BINDER.parents[1]
    offenders = set()
    for path in sorted(package.rglob("*.py")):
        if path == BINDER:
            continue
        relative = path.relative_to(package).as_posix()
        for name in private_reads(ast.parse(path.read_text()), private):
            offenders.add((relative, name))
    assert offenders <= ELSEWHERE, sorted(offenders - ELSEWHERE)
    assert private_reads(ast.parse(BINDER.read_text()), private) >= {"_getframe", "_last_obs"}
