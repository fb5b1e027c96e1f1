"""NoisyLinear: the paper's initialisation, noise statistics, explicit resampling, gradients."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn

from rlnoise.nn import NoisyLinear, noise_disabled

K = 5.0  # standard errors allowed in statistical checks


def randn(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Test inputs from their own generator: never the global RNG, the same on every run."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_factorised_init_matches_paper() -> None:
    p, q = 400, 300
    layer = NoisyLinear(p, q, seed=0)
    bound = 1 / math.sqrt(p)
    mu = layer.weight_mu.detach().double()
    assert mu.abs().max() <= bound
    # U(-b, b): mean 0, variance b^2/3; the mean's standard error is b/sqrt(3n).
    n = mu.numel()
    assert abs(mu.mean().item()) < K * bound / math.sqrt(3 * n)
    # Var of x^2 for U(-b, b) is E[x^4] - E[x^2]^2 = b^4/5 - b^4/9.
    se_square = math.sqrt((bound**4 / 5 - bound**4 / 9) / n)
    assert abs((mu**2).mean().item() - bound**2 / 3) < K * se_square
    assert torch.all(layer.weight_sigma == 0.5 / math.sqrt(p))
    assert torch.all(layer.bias_sigma == 0.5 / math.sqrt(p))
    assert layer.bias_mu.abs().max() <= bound


def test_independent_init_matches_paper() -> None:
    p, q = 300, 200
    layer = NoisyLinear(p, q, factorised=False, seed=1)
    bound = math.sqrt(3 / p)
    mu = layer.weight_mu.detach().double()
    assert mu.abs().max() <= bound
    n = mu.numel()
    se_square = math.sqrt((bound**4 / 5 - bound**4 / 9) / n)
    assert abs((mu**2).mean().item() - bound**2 / 3) < K * se_square
    assert torch.allclose(layer.weight_sigma, torch.full((q, p), 0.017))
    assert torch.allclose(layer.bias_sigma, torch.full((q,), 0.017))


def test_factorised_noise_is_rank_one_with_bias_as_output_factor() -> None:
    layer = NoisyLinear(6, 5, seed=2)
    eps = layer.weight_epsilon
    singular = torch.linalg.svdvals(eps)
    assert singular[1] < 1e-5 * singular[0]  # rank one up to float32 rounding
    # eps_w = f(eps_out) f(eps_in)^T and eps_b = f(eps_out): every column is a multiple of eps_b.
    ratios = eps / layer.bias_epsilon[:, None]
    assert torch.allclose(ratios, ratios[0:1].expand_as(ratios), atol=1e-5)


def test_factorised_noise_entry_statistics() -> None:
    # One entry over N resamples: (f(a) f(b))^2 has mean E|a| E|b| = 2/pi and
    # variance E[a^2] E[b^2] - (2/pi)^2 = 1 - 4/pi^2.
    layer = NoisyLinear(3, 2, seed=3)
    n = 4000
    values = []
    for _ in range(n):
        layer.reset_noise()
        values.append(layer.weight_epsilon[1, 2].item())
    x = torch.tensor(values, dtype=torch.float64)
    assert abs(x.mean().item()) < K * math.sqrt(2 / math.pi / n)
    se = math.sqrt((1 - 4 / math.pi**2) / n)
    assert abs((x**2).mean().item() - 2 / math.pi) < K * se


def test_independent_noise_is_standard_normal() -> None:
    layer = NoisyLinear(50, 40, factorised=False, seed=4)
    eps = torch.cat([layer.weight_epsilon.flatten(), layer.bias_epsilon]).double()
    n = eps.numel()
    assert abs(eps.mean().item()) < K / math.sqrt(n)
    assert abs(eps.var().item() - 1) < K * math.sqrt(2 / (n - 1))


def test_sample_changes_only_on_reset_noise_never_with_training_mode() -> None:
    layer = NoisyLinear(4, 3, seed=5)
    x = randn(2, 4)
    first = layer(x)
    layer.eval()
    assert torch.equal(layer(x), first)  # eval mode neither resamples nor turns noise off
    layer.train()
    assert torch.equal(layer(x), first)
    layer.reset_noise()
    assert not torch.equal(layer(x), first)


def test_noise_flag_gives_the_mean_network() -> None:
    layer = NoisyLinear(4, 3, seed=6)
    x = randn(2, 4)
    layer.noise_enabled = False
    expected = x @ layer.weight_mu.T + layer.bias_mu
    assert torch.allclose(layer(x), expected)
    layer.noise_enabled = True
    assert not torch.allclose(layer(x), expected)
    with noise_disabled(layer):
        assert torch.allclose(layer(x), expected)
    assert layer.noise_enabled


def test_effective_weight_is_mu_plus_sigma_eps() -> None:
    layer = NoisyLinear(4, 3, seed=7)
    expected = layer.weight_mu + layer.weight_sigma * layer.weight_epsilon
    assert torch.allclose(layer.weight, expected)
    assert torch.allclose(layer.bias, layer.bias_mu + layer.bias_sigma * layer.bias_epsilon)


def test_same_seed_same_noise_different_seed_different_noise() -> None:
    a, b, c = NoisyLinear(5, 4, seed=8), NoisyLinear(5, 4, seed=8), NoisyLinear(5, 4, seed=9)
    x = randn(3, 5)
    for _ in range(3):
        assert torch.equal(a(x), b(x))
        assert not torch.equal(a(x), c(x))
        a.reset_noise()
        b.reset_noise()
        c.reset_noise()


def test_gradients_reach_mu_and_sigma() -> None:
    layer = NoisyLinear(4, 3, seed=10)
    x = randn(5, 4)
    layer(x).sum().backward()
    grad_weight = torch.ones(5, 3).T @ x  # d(sum y)/dW for y = x W^T
    mu_grad, sigma_grad = layer.mu.grad, layer.sigma.grad  # [weight | bias] columns
    assert torch.allclose(mu_grad[:, :4], grad_weight, atol=1e-5)
    assert torch.allclose(mu_grad[:, 4], torch.full((3,), 5.0))
    assert torch.allclose(sigma_grad[:, :4], grad_weight * layer.weight_epsilon, atol=1e-5)
    assert torch.allclose(sigma_grad[:, 4], 5 * layer.bias_epsilon, atol=1e-5)


def test_resampling_between_forward_and_backward_keeps_the_graph_valid() -> None:
    # SAC resamples on the critic's optimizer step, between the actor's forward and backward.
    layer = NoisyLinear(4, 3, seed=11)
    x = randn(2, 4)
    out = layer(x).sum()
    used = layer.weight_epsilon
    layer.reset_noise()
    out.backward()  # would raise if the sample had been overwritten in place
    assert torch.allclose(layer.sigma.grad[:, :4], (torch.ones(2, 3).T @ x) * used, atol=1e-5)
    assert not torch.equal(layer.weight_epsilon, used)


def test_cached_effective_weights_follow_parameter_updates() -> None:
    layer = NoisyLinear(4, 3, seed=12)
    x = randn(2, 4)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    with torch.no_grad():
        before = layer(x)
        assert torch.equal(layer(x), before)
    layer(x).sum().backward()
    optimizer.step()
    with torch.no_grad():
        after = layer(x)
    expected = x @ (layer.weight_mu + layer.weight_sigma * layer.weight_epsilon).T + layer.bias
    assert torch.allclose(after, expected)
    assert not torch.allclose(after, before)


def test_from_linear_keeps_weights_and_dtype_moves() -> None:
    base = nn.Linear(3, 2)
    layer = NoisyLinear.from_linear(base, seed=13)
    assert torch.equal(layer.weight_mu, base.weight)
    assert torch.equal(layer.bias_mu, base.bias)
    layer = layer.double()
    layer.reset_noise()
    assert layer.weight_epsilon.dtype == torch.float64
    assert layer(randn(1, 3, dtype=torch.float64)).dtype == torch.float64


def test_deepcopy_and_no_bias() -> None:
    layer = NoisyLinear(3, 2, bias=False, seed=14)
    assert layer.bias_mu is None and layer.bias is None
    clone = copy.deepcopy(layer)
    x = randn(1, 3)
    assert torch.equal(clone(x), layer(x))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"in_features": 0, "out_features": 2}, "in_features"), ({"sigma0": -1.0}, "sigma0")],
)
def test_bad_arguments_name_the_field(kwargs: dict, field: str) -> None:
    full = {"in_features": 2, "out_features": 2, **kwargs}
    with pytest.raises(ValueError, match=field):
        NoisyLinear(**full)


@pytest.mark.parametrize("grad", [True, False])
def test_lazy_resample_is_drawn_before_the_next_forward(grad: bool) -> None:
    layer = NoisyLinear(4, 3, seed=15)
    layer.cache_effective_weights = True
    x = randn(2, 4)
    with torch.set_grad_enabled(grad):
        before = layer(x)
        layer.reset_noise(lazy=True)
        after = layer(x)
    assert not torch.allclose(before, after)
    expected = x @ layer.weight.T + layer.bias  # the new sample
    assert torch.allclose(after, expected, atol=1e-6)
