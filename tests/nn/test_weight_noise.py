"""WeightNoise: fresh and held draws, statistics, phases, clean parameters, bad specs."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rlnoise.nn import NoiseControl, WeightNoise

K = 5.0


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Test inputs from their own generator: never the global RNG, the same on every run."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def make_net() -> nn.Sequential:
    # The network's own init only, inside fork_rng: the global RNG is left as it was, so a
    # noise draw that (wrongly) came from it would not be pinned by this helper.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(20, 30), nn.Tanh(), nn.Linear(30, 2))


class _RecordingLinear(nn.Linear):
    """A Linear that records the weight its forward pass multiplies by."""

    seen: list[torch.Tensor]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(self.weight.detach())
        return super().forward(x)


def capture_weight(net: nn.Sequential, index: int = 0) -> list[torch.Tensor]:
    """Record the weight a layer's forward actually reads (noise included).

    The weight is read inside the forward pass itself, where the noise is in place,
    whatever the order in which observers and noise were set up.
    """
    layer = net[index]
    layer.__class__ = _RecordingLinear
    layer.seen = []
    return layer.seen


def test_fresh_noise_differs_per_forward_and_is_off_outside_its_phases() -> None:
    net, control = make_net(), NoiseControl()
    WeightNoise(net, "gaussian:0.1", control=control, names=["0.weight"], seed=0)
    x = randn(4, 20)
    control.set_training(True)  # default phase: train
    assert not torch.equal(net(x), net(x))
    control.set_training(False)
    assert torch.equal(net(x), net(x))
    assert torch.allclose(
        net(x), nn.functional.linear(torch.tanh(net[0](x)), net[2].weight, net[2].bias)
    )


def test_parameters_state_dict_and_gradients_stay_clean() -> None:
    net, control = make_net(), NoiseControl()
    WeightNoise(net, "gaussian:0.1", control=control, names=["0.weight"], seed=1)
    control.set_training(True)
    clean = net[0].weight.detach().clone()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    net(randn(4, 20)).sum().backward()
    assert torch.equal(net[0].weight, clean)
    assert "weight" not in net[0].__dict__  # the shadow is gone after forward
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert net[0].weight.grad is not None and net[0].weight.grad.abs().sum() > 0


def test_additive_gaussian_perturbation_has_the_spec_std() -> None:
    net, control = make_net(), NoiseControl()
    WeightNoise(net, "gaussian:0.2,phases=eval", control=control, names=["0.weight"], seed=2)
    seen = capture_weight(net)
    net(randn(1, 20))
    delta = (seen[0] - net[0].weight.detach()).double().flatten()
    n = delta.numel()
    # Sample variance of n normals: standard error sigma^2 sqrt(2/(n-1)).
    assert abs(delta.var().item() - 0.04) < K * 0.04 * math.sqrt(2 / (n - 1))
    assert abs(delta.mean().item()) < K * 0.2 / math.sqrt(n)


def test_multiplicative_noise_scales_with_the_weight() -> None:
    net, control = make_net(), NoiseControl()
    spec = "uniform:0.5,mode=multiplicative,phases=eval"
    WeightNoise(net, spec, control=control, names=["0.weight"], seed=3)
    seen = capture_weight(net)
    net(randn(1, 20))
    ratio = (seen[0] / net[0].weight.detach() - 1).double().flatten()
    assert ratio.abs().max() <= 0.5 + 1e-5
    # U(-0.5, 0.5): variance 0.25/3; Var of x^2 is b^4/5 - b^4/9.
    n = ratio.numel()
    se = math.sqrt((0.5**4 / 5 - 0.5**4 / 9) / n)
    assert abs((ratio**2).mean().item() - 0.25 / 3) < K * se


def test_dropconnect_zeroes_the_spec_fraction() -> None:
    net, control = make_net(), NoiseControl()
    WeightNoise(net, "dropout:0.3,phases=eval", control=control, names=["0.weight"], seed=4)
    seen = capture_weight(net)
    net(randn(1, 20))
    dropped = (seen[0] == 0).double().mean().item()
    n = seen[0].numel()
    assert abs(dropped - 0.3) < K * math.sqrt(0.3 * 0.7 / n)
    kept = seen[0] != 0
    assert torch.equal(seen[0][kept], net[0].weight.detach()[kept])


def test_held_noise_changes_only_on_its_event() -> None:
    net, control = make_net(), NoiseControl()
    WeightNoise(
        net,
        "gaussian:0.1,phases=rollout,resample=episode",
        control=control,
        names=["0.weight", "2.weight"],
        seed=5,
    )
    x = randn(3, 20)
    control.begin_acting(rows=1, episode_started=False)
    first = net(x)
    control.begin_acting(rows=1, episode_started=False)
    assert torch.equal(net(x), first)
    control.begin_acting(rows=1, episode_started=True)
    assert not torch.equal(net(x), first)


def test_schedule_and_outside_clock_set_the_scale() -> None:
    net, control = make_net(), NoiseControl()
    spec = {
        "kind": "gaussian",
        "scale": 0.4,
        "schedule": {"type": "linear", "start": 1.0, "end": 0.0, "steps": 100},
    }
    noise = WeightNoise(net, spec, control=control, names=["0.weight"], seed=6)
    assert noise.scale == pytest.approx(0.4)
    control.set_step(50)
    assert noise.scale == pytest.approx(0.2)
    assert noise.scales() == {"weight_noise": pytest.approx(0.2)}


def test_stacked_perturbations_unwind() -> None:
    net, control = make_net(), NoiseControl()
    WeightNoise(net, "gaussian:0.1,phases=eval", control=control, names=["0.weight"], seed=7)
    WeightNoise(
        net, "dropout:0.5,phases=eval", control=control, names=["0.weight"], seed=8, label="second"
    )
    seen = capture_weight(net)
    net(randn(1, 20))
    assert "weight" not in net[0].__dict__
    # The dropout mask applied on top of the gaussian draw: a Binomial(n, 0.5) fraction of
    # zeros (SE sqrt(0.25 / n)); K = 5 SE: a correct mask fails with probability < 1e-6.
    zeros = (seen[0] == 0).double().mean().item()
    n = seen[0].numel()
    assert abs(zeros - 0.5) < K * math.sqrt(0.25 / n)
    kept = seen[0] != 0
    assert not torch.any(seen[0][kept] == net[0].weight.detach()[kept])  # and noisy, not clean


def test_same_seed_same_draws() -> None:
    outs = []
    for global_seed in (100, 200):
        net, control = make_net(), NoiseControl()
        WeightNoise(net, "laplace:0.1,phases=eval", control=control, names=["0.weight"], seed=9)
        torch.manual_seed(global_seed)  # a different global RNG: the noise must not read it
        outs.append(net(torch.ones(1, 20)))
    assert torch.equal(outs[0], outs[1])
    net, control = make_net(), NoiseControl()
    WeightNoise(net, "laplace:0.1,phases=eval", control=control, names=["0.weight"], seed=10)
    assert not torch.equal(net(torch.ones(1, 20)), outs[0])  # the seed is what decides


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("salt_pepper:0.1", "salt_pepper' makes no sense for weights"),
        ("ou:0.1", "process over time steps"),
        ("gaussian:0.1,relative_to=range", "relative_to='range'"),
        ({"kind": "gaussian", "scale": [0.1, 0.2]}, "single number"),
        ("gaussian:0.1,clip=space", "clip='space'"),
    ],
)
def test_bad_specs_are_rejected(spec: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WeightNoise(make_net(), spec, control=NoiseControl(), names=["0.weight"], seed=0)


def test_parameter_outside_any_submodule_is_rejected() -> None:
    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(1))

    with pytest.raises(ValueError, match="top-level module"):
        WeightNoise(Holder(), "gaussian:0.1", control=NoiseControl(), names=["scale"], seed=0)


def test_relative_std_scales_by_the_tensor_std() -> None:
    net, control = make_net(), NoiseControl()
    WeightNoise(
        net,
        "gaussian:0.5,relative_to=std,phases=eval",
        control=control,
        names=["0.weight"],
        seed=10,
    )
    seen = capture_weight(net)
    net(randn(1, 20))
    weight = net[0].weight.detach().double()
    delta = (seen[0] - net[0].weight.detach()).double().flatten()
    expected = (0.5 * weight.std()) ** 2
    n = delta.numel()
    assert abs(delta.var().item() - expected.item()) < K * expected.item() * math.sqrt(2 / (n - 1))


def test_weight_noise_reaches_noisy_linear_means() -> None:
    from rlnoise.nn import NoisyLinear

    net = nn.Sequential(NoisyLinear(4, 3, seed=0))
    net[0].noise_enabled = False
    x = randn(2, 4)
    clean = net(x)
    WeightNoise(net, "gaussian:0.1,phases=eval", control=NoiseControl(), names=["0.mu"], seed=1)
    assert not torch.allclose(net(x), clean)
    assert "mu" not in net[0].__dict__


def test_a_new_base_scale_keeps_drawing_on_the_parameters_dtype() -> None:
    # Prepared draws are rebuilt by set_base_scale while the hooks are installed; the new
    # draws must follow the parameters (dtype here, the same path as the device on a GPU).
    net, control = make_net().double(), NoiseControl()
    noise = WeightNoise(net, "gaussian:0.1", control=control, names=["0.weight"], seed=0)
    control.set_training(True)
    seen = capture_weight(net)
    net(randn(2, 20, dtype=torch.float64))
    noise.set_base_scale(0.2)
    net(randn(2, 20, dtype=torch.float64))
    assert [w.dtype for w in seen] == [torch.float64, torch.float64]
    assert all(owner.draws.dtype == torch.float64 for owner in noise.owners)
