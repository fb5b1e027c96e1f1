"""ParameterNoise: held perturbation for acting, adaptation direction and step, distances."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rlnoise.nn import NoiseControl, ParameterNoise, action_rms_distance, softmax_kl_distance


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Test inputs from their own generator: never the global RNG, the same on every run."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def make_actor() -> nn.Sequential:
    with torch.random.fork_rng(devices=[]):  # pinned init; the global RNG is left alone
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 2), nn.Tanh())


def make_noise(
    actor: nn.Module, spec: str, **kwargs: object
) -> tuple[ParameterNoise, NoiseControl]:
    control = NoiseControl()
    options = {"adapt_every": 1, **kwargs}
    noise = ParameterNoise(
        actor,
        spec,
        control=control,
        names=["0.weight", "0.bias", "2.weight", "2.bias"],
        seed=0,
        output_fn=actor,
        distance="rms",
        recorder=actor,
        **options,
    )
    return noise, control


def act(actor: nn.Module, control: NoiseControl, steps: int, episode_every: int = 0) -> None:
    obs = torch.randn(steps, 3, generator=torch.Generator().manual_seed(1))
    for t in range(steps):
        control.begin_acting(rows=1, episode_started=bool(episode_every) and t % episode_every == 0)
        actor(obs[t : t + 1])


def test_distance_functions() -> None:
    assert action_rms_distance(torch.zeros(4, 2), torch.full((4, 2), 0.5)) == pytest.approx(0.5)
    q = torch.tensor([[0.0, 0.0]])
    p = torch.tensor([[math.log(3.0), 0.0]])  # softmax (0.75, 0.25)
    expected = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    assert softmax_kl_distance(q, p) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("target", "shrinks"), [(1e-6, True), (10.0, False)])
def test_adaptation_moves_sigma_towards_the_target(target: float, shrinks: bool) -> None:
    actor = make_actor()
    noise, control = make_noise(actor, f"gaussian:0.1,adaptive={target}")
    act(actor, control, steps=6)
    # Five measurements (the first step has no observations yet): 0.1 x/÷ 1.01^5.
    expected = 0.1 / 1.01**5 if shrinks else 0.1 * 1.01**5
    assert noise.sigma == pytest.approx(expected)
    assert noise.last_distance is not None and noise.last_distance > 0


def test_perturbation_acts_in_rollout_only_and_is_held_between_episodes() -> None:
    actor = make_actor()
    _, control = make_noise(actor, "gaussian:0.2,adaptive=0.1", adapt_every=0)
    x = randn(4, 3)
    clean = actor(x)  # eval phase: clean
    control.begin_acting(rows=1, episode_started=True)
    first = actor(x)
    assert not torch.allclose(first, clean)
    control.begin_acting(rows=1, episode_started=False)
    assert torch.equal(actor(x), first)
    control.begin_acting(rows=1, episode_started=True)
    assert not torch.equal(actor(x), first)
    control.set_training(True)
    assert torch.equal(actor(x), clean)  # learning sees the clean actor


def test_same_seed_same_perturbation_whatever_the_global_rng() -> None:
    outs = []
    for global_seed in (100, 200):
        actor = make_actor()
        _, control = make_noise(actor, "gaussian:0.2,adaptive=0.1", adapt_every=0)
        torch.manual_seed(global_seed)  # a different global RNG: the noise must not read it
        control.begin_acting(rows=1, episode_started=True)
        outs.append(actor(randn(4, 3)))
    assert torch.equal(outs[0], outs[1])
    assert not torch.equal(outs[0], make_actor()(randn(4, 3)))  # and it is perturbed


def test_measurement_leaves_other_noise_and_phase_alone() -> None:
    actor = make_actor()
    noise, control = make_noise(actor, "gaussian:0.2,adaptive=0.1")
    act(actor, control, steps=3)
    assert control.phase == "rollout" and noise.weights.installed
    distance = noise.measure()
    assert distance is not None and distance > 0
    assert noise.weights.installed and "weight" not in actor[0].__dict__


def test_callable_target_is_followed() -> None:
    actor = make_actor()
    # Read at construction, then at each of the 5 steps; the first step has nothing to measure.
    targets = iter([5.0, 5.0, 5.0, 1e-3, 1e-3, 1e-3])
    noise, control = make_noise(actor, "gaussian:0.1", default_target=lambda: next(targets))
    act(actor, control, steps=5)
    assert noise.target == pytest.approx(1e-3)
    assert noise.sigma == pytest.approx(0.1 * 1.01 / 1.01**3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [("dropout:0.1", "not a parameter perturbation"), ("gaussian:0.1,resample=call", "'call'")],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_noise(make_actor(), spec)
