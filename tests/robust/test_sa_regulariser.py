"""The SA regulariser: its inner maximum, where its gradient goes, its seam into SB3's update."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO, SAC, TD3

from rlnoise.attacks.linf import linf_attack
from rlnoise.core.random import make_torch_generator
from rlnoise.experiments.config import ExperimentConfig
from rlnoise.robust import SARegulariser
from rlnoise.robust.heads import policy_head
from rlnoise.robust.sa_regulariser import _distributions, _kl, sa_term

EPS = 0.1


def fixed_ppo(env: str = "CartPole-v1") -> PPO:
    """A fixed network whose action distribution depends strongly on the observation.

    At initialisation SB3's action layer is scaled by 0.01 and the KL of any δ is ~1e-7,
    float32 round-off; the actor's weights are multiplied so that it is ~1e-2.
    """
    model = PPO("MlpPolicy", env, seed=0, device="cpu")
    with torch.no_grad():
        for name, parameter in model.policy.named_parameters():
            if "policy_net" in name or "action_net" in name:
                parameter.mul_(30.0 if "action_net" in name else 3.0)
    return model


def observations(n: int = 256, dim: int = 4) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(1)) * 0.5


def kl_at(policy, obs: torch.Tensor, attacked: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return _kl(_distributions(policy, obs), _distributions(policy, attacked))


@pytest.mark.parametrize("env", ["CartPole-v1", "Pendulum-v1"])
def test_inner_max_is_at_least_as_damaging_as_fgsm(env: str) -> None:
    policy = fixed_ppo(env).policy
    obs = observations(dim=policy.observation_space.shape[0])
    head = policy_head(policy)
    start = None if head.discrete else torch.zeros_like(obs).uniform_(-EPS, EPS)
    fgsm = linf_attack(head.scores, obs, eps=EPS, steps=1, step_size=EPS,
                       discrete=head.discrete, start=start)  # fmt: skip
    term = sa_term(policy, obs, eps=EPS, steps=10, generator=make_torch_generator(0))
    assert (term.attacked - obs).abs().max() <= EPS + 1e-6
    pgd_kl, fgsm_kl = kl_at(policy, obs, term.attacked), kl_at(policy, obs, fgsm)
    torch.testing.assert_close(pgd_kl, term.divergence, rtol=1e-4, atol=1e-6)
    assert pgd_kl.mean() >= fgsm_kl.mean()
    # Best iterate kept per row: never below the random start (up to float32 round-off of
    # the batched forward that recomputes it).
    assert (term.divergence >= term.start - 1e-5 * term.start.abs().max()).all()
    assert (term.divergence - term.start).mean() > 0  # and the PGD steps found more


def test_gradient_reaches_every_actor_parameter_and_nothing_else_ppo() -> None:
    policy = fixed_ppo().policy
    term = sa_term(policy, observations(), eps=EPS, steps=3, generator=make_torch_generator(0))
    term.value.backward()
    for name, parameter in policy.named_parameters():
        critic = "value" in name
        assert (parameter.grad is None) == critic, name
        if not critic:
            assert parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("algo", [SAC, TD3])
def test_gradient_reaches_every_actor_parameter_and_nothing_else_off_policy(algo) -> None:
    policy = algo("MlpPolicy", "Pendulum-v1", seed=0, device="cpu").policy
    term = sa_term(policy, observations(dim=3), eps=EPS, steps=3,
                   generator=make_torch_generator(0))  # fmt: skip
    term.value.backward()
    for name, parameter in policy.named_parameters():
        # SAC's deterministic action tanh(μ(s)) does not depend on its log-std head.
        if name.startswith("actor.") and not name.startswith("actor.log_std"):
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        else:
            assert parameter.grad is None, name


def train_one_update(callback) -> dict[str, torch.Tensor]:
    # SGD and no clipping: the update of a parameter is its gradient (Adam's first step is
    # lr·sign(g), blind to the regulariser's size).
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, n_epochs=1,
                max_grad_norm=1e9, seed=0, device="cpu",
                policy_kwargs={"optimizer_class": torch.optim.SGD})  # fmt: skip
    model.learn(64, callback=callback)
    return {k: v.detach().clone() for k, v in model.policy.named_parameters()}


def test_callback_changes_the_actor_update_only() -> None:
    plain = train_one_update(SARegulariser(kappa=0.0, seed=0))
    regularised = train_one_update(SARegulariser(kappa=10.0, eps=0.3, steps=2, seed=0))
    for name in plain:
        if "value" in name:  # same gradient into the critic, so the same Adam step
            torch.testing.assert_close(plain[name], regularised[name], rtol=0, atol=0)
        else:
            assert not torch.equal(plain[name], regularised[name]), name


def test_logs_hooks_removed_and_seeded() -> None:
    def run(seed: int) -> tuple[PPO, SARegulariser]:
        model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, n_epochs=1,
                    seed=0, device="cpu")  # fmt: skip
        callback = SARegulariser(eps=EPS, steps=2, seed=seed)
        model.learn(64, callback=callback)
        return model, callback

    model, callback = run(3)
    assert callback.n_batches == 2
    logged = model.logger.name_to_value  # train() records after the rollout's dump
    assert {"robust/sa_divergence", "robust/sa_inner_gap", "robust/sa_kappa"} <= set(logged)
    assert logged["robust/sa_kappa"] == 0.1 and logged["robust/sa_eps"] == EPS
    assert not callback._handles and "get" not in vars(model.rollout_buffer)
    same, _ = run(3)
    other, _ = run(4)
    a, b, c = (m.policy.action_net.weight.detach() for m in (model, same, other))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_schedules_follow_the_clock() -> None:
    callback = SARegulariser(
        kappa=0.5,
        eps=0.2,
        steps=2,
        seed=0,
        eps_schedule={"type": "linear", "start": 0, "end": 1, "steps": 128},
    )
    callback.set_noise_step(64)
    assert callback.noise_scales() == {"sa_kappa": 0.5, "sa_eps": pytest.approx(0.1)}
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=64, n_epochs=1, seed=0,
                device="cpu")  # fmt: skip
    callback.set_noise_step(0)
    model.learn(64, callback=callback)  # ε = 0 at step 0: nothing to regularise
    assert callback.n_batches == 0
    callback.set_noise_step(128)
    model.learn(64, callback=callback, reset_num_timesteps=False)
    assert callback.n_batches == 1


def test_yaml_builds_and_validates() -> None:
    base = {"name": "x", "algo": "PPO", "env": {"id": "CartPole-v1"}, "total_timesteps": 64,
            "seeds": [0]}  # fmt: skip
    config = ExperimentConfig.from_dict(
        {**base, "callbacks": [{"rlnoise.robust.SARegulariser": {"kappa": 0.2, "steps": 3}}]}
    )
    built = config.callbacks[0].build()
    assert isinstance(built, SARegulariser) and built.kappa == 0.2 and built.steps == 3
    bad = {"rlnoise.robust.SARegulariser": {"kappa": "abc"}}
    with pytest.raises(ValueError, match=r"^callbacks\[0\]\.kappa must be a number, got 'abc'"):
        ExperimentConfig.from_dict({**base, "callbacks": [bad]})
    bad = {"rlnoise.robust.AdversarialTraining": {"attack": "cw"}}
    with pytest.raises(ValueError, match=r"^callbacks\[0\]\.attack must be one of .* got 'cw'"):
        ExperimentConfig.from_dict({**base, "callbacks": [bad]})
    bad = {"rlnoise.robust.AdversarialTraining": {"fraction": 1.5}}
    with pytest.raises(ValueError, match=r"^callbacks\[0\]\.fraction must be <= 1.0, got 1.5"):
        ExperimentConfig.from_dict({**base, "callbacks": [bad]})
    assert np.isfinite(built.eps)


def test_dqn_margin_form() -> None:
    from stable_baselines3 import DQN

    from rlnoise.robust.sa_regulariser import _margin

    policy = DQN("MlpPolicy", "CartPole-v1", seed=0, device="cpu").policy
    obs = observations()
    term = sa_term(policy, obs, eps=EPS, steps=5, generator=make_torch_generator(0), hinge=1.0)
    with torch.no_grad():
        q_clean, q_adv = policy.q_net(obs), policy.q_net(term.attacked)
    margin = _margin(q_clean, q_adv)
    # SA-DQN's hinge: max(max_{a != a*} Q(s+δ, a) − Q(s+δ, a*), −c), a* the clean greedy action.
    torch.testing.assert_close(term.divergence, torch.clamp(margin, min=-1.0))
    assert margin.mean() > _margin(q_clean, q_clean).mean()  # the attack closes the gap
    term.value.backward()
    assert all(p.grad is not None for p in policy.q_net.parameters())
    assert all(p.grad is None for p in policy.q_net_target.parameters())
