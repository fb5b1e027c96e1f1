"""Selective noise injection: noise-free rollouts, the λ-mixture of losses, λ = 1 exactness."""

from __future__ import annotations

import pytest
import torch
from stable_baselines3 import A2C, PPO

from rlnoise.policies import NoisyActorCriticPolicy
from rlnoise.policies.losses import Minibatch, attach_loss, on_policy_loss

SMALL = {"n_steps": 32, "batch_size": 16, "n_epochs": 2, "device": "cpu"}
DROPOUT = {"activation_noise": "dropout:0.3,rescale=true", "weight_noise": None}


def _ppo(policy_kwargs: dict, seed: int = 0, algo: type = PPO, steps: int = 64, **kwargs) -> PPO:
    """Build and train (SB3 seeds the global RNGs at construction: train before the next)."""
    options = {**SMALL, **kwargs} if algo is PPO else {"n_steps": 32, "device": "cpu", **kwargs}
    model = algo(
        NoisyActorCriticPolicy, "CartPole-v1", seed=seed, policy_kwargs=policy_kwargs, **options
    )
    if steps:
        model.learn(steps)
    return model


def _parameters(model) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.policy.parameters()]


@pytest.mark.parametrize("algo", [PPO, A2C])
def test_lambda_one_is_the_noise_free_update_bit_for_bit(algo: type) -> None:
    clean = _ppo({"activation_noise": None, "weight_noise": None}, algo=algo)
    sni = _ppo({**DROPOUT, "sni_lambda": 1.0}, algo=algo)
    for a, b in zip(_parameters(clean), _parameters(sni), strict=True):
        assert torch.equal(a, b)


def test_lambda_below_one_changes_the_update() -> None:
    clean = _ppo({"activation_noise": None, "weight_noise": None})
    sni = _ppo({**DROPOUT, "sni_lambda": 0.5})
    assert any(
        not torch.equal(a, b) for a, b in zip(_parameters(clean), _parameters(sni), strict=True)
    )


def test_rollouts_are_collected_by_the_noise_free_network() -> None:
    clean = _ppo({"activation_noise": None, "weight_noise": None}, steps=32)
    sni = _ppo({**DROPOUT, "sni_lambda": 0.5}, steps=32)
    naive = _ppo(
        {"activation_noise": "dropout:0.3,rescale=true,phases=rollout+train", "weight_noise": None},
        steps=32,
    )
    # The first rollout: acting saw the same network, so the same actions and log-probs.
    assert torch.equal(
        torch.as_tensor(sni.rollout_buffer.log_probs),
        torch.as_tensor(clean.rollout_buffer.log_probs),
    )
    assert not torch.equal(
        torch.as_tensor(naive.rollout_buffer.log_probs),
        torch.as_tensor(clean.rollout_buffer.log_probs),
    )


def _ppo_loss(samples, values, log_prob, entropy, clip: float, ent: float, vf: float):
    """PPO's loss written out (SB3's ppo.py): advantages normalised, clipped surrogate."""
    adv = samples.advantages
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    ratio = torch.exp(log_prob - samples.old_log_prob)
    surrogate = torch.min(adv * ratio, adv * torch.clamp(ratio, 1 - clip, 1 + clip))
    value_loss = ((samples.returns - values.flatten()) ** 2).mean()
    return -surrogate.mean() - ent * entropy.mean() + vf * value_loss


@pytest.mark.parametrize("sni_lambda", [0.0, 0.3, 1.0])
def test_the_update_is_the_lambda_mixture_of_the_two_losses(sni_lambda: float) -> None:
    from rlnoise.policies.sni import selective_noise_injection

    model = _ppo(
        {**DROPOUT, "sni_lambda": sni_lambda}, n_epochs=1, batch_size=32, ent_coef=0.01, steps=64
    )
    policy = model.policy
    policy.set_training_mode(True)
    samples = next(model.rollout_buffer.get(32))
    actions = samples.actions.long().flatten()
    batch = Minibatch(
        samples,
        "ppo",
        clip_range=0.2,
        clip_range_vf=None,
        normalize_advantage=True,
        ent_coef=0.01,
        vf_coef=0.5,
    )
    seen = []

    def evaluate(obs, act):
        # SB3's own evaluate_actions (the noisy policy's would apply SNI itself)
        outputs = super(NoisyActorCriticPolicy, policy).evaluate_actions(obs, act)
        seen.append(outputs)
        return outputs

    outs = selective_noise_injection(
        evaluate, policy.noise_control, samples.observations, actions, batch, sni_lambda
    )
    (clean, noisy) = seen
    assert not torch.equal(clean[1], noisy[1])  # the second pass is noisy (dropout on)
    params = [p for p in policy.parameters() if p.requires_grad]
    # What SB3 does with the returned outputs: its loss, then backward.
    sb3 = torch.autograd.grad(
        _ppo_loss(samples, *outs, 0.2, 0.01, 0.5), params, retain_graph=True, allow_unused=True
    )
    by_hand = sni_lambda * _ppo_loss(samples, *clean, 0.2, 0.01, 0.5) + (
        1 - sni_lambda
    ) * _ppo_loss(samples, *noisy, 0.2, 0.01, 0.5)
    expected = torch.autograd.grad(by_hand, params, allow_unused=True)
    for got, want in zip(sb3, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)


def test_attach_loss_adds_the_extra_gradient_once() -> None:
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    out = attach_loss(x * 1.0, scale=0.25, extra=(x**2).sum())
    (3 * out).sum().backward()  # d/dx = 0.25 * 3 + 2x
    assert x.grad.tolist() == [2.75, -3.25]


def test_on_policy_loss_is_sb3s_a2c_formula_with_importance_weights() -> None:
    model = _ppo({**DROPOUT, "sni_lambda": 0.5}, algo=A2C, steps=32)
    samples = next(model.rollout_buffer.get(None))
    values, log_prob, entropy = model.policy.evaluate_actions(
        samples.observations, samples.actions.long().flatten()
    )
    batch = Minibatch(samples, "a2c", None, None, False, ent_coef=0.0, vf_coef=0.5)
    plain = on_policy_loss(batch, values, log_prob, entropy)
    expected = (
        -(samples.advantages * log_prob).mean()
        + 0.5 * ((samples.returns - values.flatten()) ** 2).mean()
    )
    torch.testing.assert_close(plain, expected)
    weighted = on_policy_loss(batch, values, log_prob, entropy, behaviour_log_prob=log_prob)
    torch.testing.assert_close(
        weighted.detach(),
        (expected + 0 * log_prob.sum()).detach()
        + (-(samples.advantages).mean() + (samples.advantages * log_prob).mean()).detach(),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sni_lambda": 1.5}, "sni_lambda must be"),
        (
            {"sni_lambda": 0.5, "activation_noise": None, "weight_noise": None},
            "needs network noise in the train phase",
        ),
        (
            {
                "sni_lambda": 0.5,
                "activation_noise": "dropout:0.1,phases=rollout+train",
                "weight_noise": None,
            },
            "activation_noise must be on in 'train' and off in 'rollout'",
        ),
    ],
)
def test_bad_sni_options_are_one_line_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _ppo({**DROPOUT, **kwargs}, steps=0)


def test_sni_lambda_survives_save_and_load(tmp_path) -> None:
    model = _ppo({**DROPOUT, "sni_lambda": 0.5}, steps=0)
    model.save(tmp_path / "model.zip")
    loaded = PPO.load(tmp_path / "model.zip", env=model.get_env(), device="cpu")
    assert loaded.policy.noise_options.sni_lambda == 0.5
    loaded.learn(32)
