"""No library draw comes from the global numpy or torch RNG (each component owns its generators).

Each check seeds both global RNGs, takes the next value each would give, reseeds, runs
the code, and asserts the global RNGs still give those values: any draw in between
(or any reseeding) would change them.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from rlnoise import NoiseSpec, NoiseStream
from rlnoise.core.kinds import KINDS
from rlnoise.core.random import make_rng, make_torch_generator
from rlnoise.nn import ActivationNoise, NoiseControl, NoisyLinear, WeightNoise
from rlnoise.wrappers import ActionNoise, ObservationNoise, RandomActionReplacement


def assert_global_rngs_untouched(run: Callable[[], None]) -> None:
    np.random.seed(123)  # noqa: NPY002 (checking the global RNG is untouched)
    torch.manual_seed(123)
    expected_np, expected_torch = np.random.rand(), torch.rand(1)  # noqa: NPY002
    np.random.seed(123)  # noqa: NPY002
    torch.manual_seed(123)
    run()
    assert np.random.rand() == expected_np  # noqa: NPY002
    assert torch.equal(torch.rand(1), expected_torch)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_streams_of_every_kind(kind: str, backend: str) -> None:
    params = {"values": [0.0, 1.0]} if kind == "salt_pepper" else {}
    spec = NoiseSpec(kind, 0.2, params=params)

    def run() -> None:
        generator = make_rng(None) if backend == "numpy" else make_torch_generator(None)
        stream = NoiseStream(spec, (3,), generator, n_rows=2)
        for _ in range(3):
            stream.sample()
        stream.reset(rows=[1])
        stream.sample()

    assert_global_rngs_untouched(run)


@pytest.mark.parametrize("seed", [None, 1])
def test_network_noise(seed: int | None) -> None:
    with torch.random.fork_rng(devices=[]):  # the plain layer's own init is not under test
        net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), NoisyLinear(3, 2, seed=0))

    def run() -> None:
        control = NoiseControl()
        WeightNoise(net, "gaussian:0.1,phases=eval", control=control, names=["0.weight"], seed=seed)
        ActivationNoise(net, "dropout:0.3,phases=eval", control=control, names=["1"], seed=seed)
        layer = NoisyLinear(4, 3, seed=seed)  # its initialisation included
        for _ in range(2):
            net(torch.ones(2, 4))
            layer(torch.ones(2, 4))
            layer.reset_noise()

    assert_global_rngs_untouched(run)


def test_wrappers_seeded_and_unseeded() -> None:
    def run() -> None:
        for reset_seed in (None, 3):
            env = ObservationNoise(gym.make("CartPole-v1"), "gaussian:0.1")
            env.reset(seed=reset_seed)
            env.step(0)
            replaced = RandomActionReplacement(gym.make("CartPole-v1"), 0.5)
            replaced.reset(seed=reset_seed)
            replaced.step(0)
            acted = ActionNoise(gym.make("Pendulum-v1"), "ou:0.1")
            acted.reset(seed=reset_seed)
            acted.step(np.zeros(1, np.float32))

    assert_global_rngs_untouched(run)
