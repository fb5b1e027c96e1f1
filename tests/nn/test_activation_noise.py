"""ActivationNoise: noise on module outputs, only in its phases, statistics, bad specs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rlnoise.nn import ActivationNoise, NoiseControl, noise_disabled

K = 5.0


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Test inputs from their own generator: never the global RNG, the same on every run."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def make_net() -> nn.Sequential:
    # The init is pinned inside fork_rng: the global RNG is left as it was, so a noise draw
    # that (wrongly) came from it would not be pinned by this helper.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 2))


def outputs_of(module: nn.Module) -> list[torch.Tensor]:
    seen: list[torch.Tensor] = []
    module.register_forward_hook(lambda m, args, out: seen.append(out.detach()))
    return seen


def test_noise_on_in_train_phase_only_by_default() -> None:
    net, control = make_net(), NoiseControl()
    ActivationNoise(net, "gaussian:0.1", control=control, names=["1"], seed=0)
    x = randn(5, 8)
    assert torch.equal(net(x), net(x))  # eval phase: off
    control.set_training(True)
    assert not torch.equal(net(x), net(x))
    with noise_disabled(control_holder(net, control)):
        assert torch.equal(net(x), net(x))


def control_holder(net: nn.Module, control: NoiseControl) -> nn.Module:
    net.noise_control = control  # how policies expose their control
    return net


def test_additive_gaussian_statistics() -> None:
    net, control = make_net(), NoiseControl()
    ActivationNoise(net, "gaussian:0.3,phases=eval", control=control, names=["1"], seed=1)
    clean = torch.tanh(net[0](torch.ones(200, 8))).detach()
    seen = outputs_of(net[1])
    net(torch.ones(200, 8))
    delta = (seen[0] - clean).double().flatten()
    n = delta.numel()
    assert abs(delta.var().item() - 0.09) < K * 0.09 * math.sqrt(2 / (n - 1))


def test_dropout_masks_the_spec_fraction() -> None:
    net, control = make_net(), NoiseControl()
    ActivationNoise(
        net, "dropout:0.25,rescale=true,phases=eval", control=control, names=["1"], seed=2
    )
    clean = torch.tanh(net[0](torch.ones(100, 8))).detach()
    seen = outputs_of(net[1])
    net(torch.ones(100, 8))
    zero = (seen[0] == 0).double().mean().item()
    n = seen[0].numel()
    assert abs(zero - 0.25) < K * math.sqrt(0.25 * 0.75 / n)
    kept = seen[0] != 0
    assert torch.allclose(seen[0][kept], clean[kept] / 0.75)


def test_salt_pepper_with_values_and_clip() -> None:
    net, control = make_net(), NoiseControl()
    ActivationNoise(
        net,
        "salt_pepper:0.5,values=-3+3,clip=-2+2,phases=eval",
        control=control,
        names=["1"],
        seed=3,
    )
    seen = outputs_of(net[1])
    net(torch.ones(50, 8))
    assert seen[0].abs().max() <= 2.0
    assert (seen[0].abs() == 2.0).any()


def test_same_seed_same_noise() -> None:
    outs = []
    for global_seed in (100, 200):
        net, control = make_net(), NoiseControl()
        ActivationNoise(net, "uniform:0.2,phases=eval", control=control, names=["1"], seed=4)
        torch.manual_seed(global_seed)  # a different global RNG: the noise must not read it
        outs.append(net(torch.ones(3, 8)))
    assert torch.equal(outs[0], outs[1])
    net, control = make_net(), NoiseControl()
    ActivationNoise(net, "uniform:0.2,phases=eval", control=control, names=["1"], seed=5)
    assert not torch.equal(net(torch.ones(3, 8)), outs[0])  # the seed is what decides


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("ou:0.1", "process over time steps"),
        ("salt_pepper:0.1", "needs explicit impulse values"),
        ("gaussian:0.1,relative_to=std", "relative_to"),
        ("gaussian:0.1,resample=episode", "fresh for every forward"),
    ],
)
def test_bad_specs_are_rejected(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ActivationNoise(make_net(), spec, control=NoiseControl(), names=["1"], seed=0)


def test_non_tensor_output_is_a_clear_error() -> None:
    class Pair(nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return x, x

    net = nn.Sequential(Pair())
    ActivationNoise(net, "gaussian:0.1,phases=eval", control=NoiseControl(), names=["0"], seed=0)
    with pytest.raises(ValueError, match="returns tuple"):
        net(torch.ones(1, 2))
