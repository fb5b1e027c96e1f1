"""ExplorationStreams: one seeded generator per env, per-env restarts, the spec's rules."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from rlnoise.core.random import derive_seed, make_rng
from rlnoise.core.stream import NoiseStream
from rlnoise.exploration import SEED_KEY, ExplorationStreams, check_exploration_spec

SPECS = ["gaussian:0.3", "uniform:0.2", "laplace:0.1", "ou:0.5", "colored:1,beta=1,length=16"]


def _draws(streams: ExplorationStreams, steps: int) -> np.ndarray:
    return np.stack([streams.sample().copy() for _ in range(steps)])


@pytest.mark.parametrize("spec", SPECS)
def test_each_env_draws_what_its_own_seeded_generator_alone_draws(spec: str) -> None:
    # Row i is independent of the other rows: exactly a stream over derive_seed(seed, key, i).
    streams = ExplorationStreams(spec, action_dim=2, n_envs=3, seed=7)
    batch = _draws(streams, 40)
    for env in range(3):
        alone = NoiseStream(spec, (2,), [make_rng(derive_seed(7, SEED_KEY, env))], dtype=np.float32)
        expected = np.stack([alone.sample()[0].copy() for _ in range(40)])
        np.testing.assert_array_equal(batch[:, env], expected)
    assert not np.array_equal(batch[:, 0], batch[:, 1])


@pytest.mark.parametrize("spec", SPECS)
def test_same_seed_same_draws_other_seed_other_draws(spec: str) -> None:
    first = _draws(ExplorationStreams(spec, 2, n_envs=2, seed=1), 20)
    np.testing.assert_array_equal(first, _draws(ExplorationStreams(spec, 2, n_envs=2, seed=1), 20))
    assert not np.array_equal(first, _draws(ExplorationStreams(spec, 2, n_envs=2, seed=2), 20))


def test_reset_restarts_only_the_envs_whose_episode_ended() -> None:
    spec = "colored:1,beta=1,length=16"
    streams = ExplorationStreams(spec, 1, n_envs=2, seed=0)
    twin = ExplorationStreams(spec, 1, n_envs=2, seed=0)
    _draws(streams, 5), _draws(twin, 5)
    streams.reset([1])
    after, untouched = _draws(streams, 5), _draws(twin, 5)
    np.testing.assert_array_equal(after[:, 0], untouched[:, 0])  # env 0 keeps its sequence
    assert not np.array_equal(after[:, 1], untouched[:, 1])
    # Env 1 starts a new 16-step sequence drawn from where its generator stood: the same
    # sequence a stream over that generator gets when it first starts after 5 steps of its
    # first sequence, i.e. its generator advanced by one sequence's Fourier coefficients.
    rng = make_rng(derive_seed(0, SEED_KEY, 1))
    rng.standard_normal((2, 9, 1), dtype=np.float32)  # the first sequence's coefficients
    fresh = NoiseStream(spec, (1,), [rng], dtype=np.float32)
    np.testing.assert_array_equal(after[:, 1], _draws_stream(fresh, 5)[:, 0])


def _draws_stream(stream: NoiseStream, steps: int) -> np.ndarray:
    return np.stack([stream.sample().copy() for _ in range(steps)])


def test_ou_restarts_from_zero_as_sb3s_process() -> None:
    # The state goes back to 0: the next draw is one increment, sigma * sqrt(dt) * eps.
    streams = ExplorationStreams("ou:0.5,theta=0.15,dt=0.01", 1, n_envs=1, seed=3)
    _draws(streams, 50)
    streams.reset()
    state_before = streams.stream.process.state.copy()
    assert np.all(state_before == 0)
    first = streams.sample()
    assert abs(float(first[0, 0])) < 0.5 * math.sqrt(0.01) * 6  # one increment, not the walk


def test_white_noise_reset_keeps_the_generator_going() -> None:
    streams = ExplorationStreams("gaussian:1", 2, n_envs=2, seed=0)
    twin = ExplorationStreams("gaussian:1", 2, n_envs=2, seed=0)
    streams.reset([0, 1])  # white noise has no state: nothing changes
    np.testing.assert_array_equal(_draws(streams, 3), _draws(twin, 3))


def test_an_env_index_beyond_n_envs_is_an_error_naming_it() -> None:
    streams = ExplorationStreams("gaussian:1", 1, n_envs=2, seed=0)
    with pytest.raises(ValueError, match="env index 3 is outside the 2 exploration streams"):
        streams.reset([3])


def test_schedule_follows_an_outside_clock() -> None:
    spec = {"kind": "gaussian", "scale": 1.0,
            "schedule": {"type": "linear", "start": 1.0, "end": 0.0, "steps": 100}}  # fmt: skip
    streams = ExplorationStreams(spec, 1, n_envs=1, seed=0)
    streams.set_noise_step(50)
    assert streams.noise_scales() == {"exploration": 0.5}
    streams.set_noise_step(100)
    assert np.all(streams.sample() == 0)


def test_streams_pickle_and_continue_where_they_stood() -> None:
    streams = ExplorationStreams("colored:1,length=8", 2, n_envs=2, seed=0)
    _draws(streams, 3)
    copy = pickle.loads(pickle.dumps(streams))
    np.testing.assert_array_equal(_draws(copy, 12), _draws(streams, 12))


def test_no_draw_touches_the_global_generators() -> None:
    np.random.seed(0)  # noqa: NPY002 (checking the global RNG is untouched)
    torch.manual_seed(0)
    expected = np.random.rand(), torch.rand(1)  # noqa: NPY002
    np.random.seed(0)  # noqa: NPY002
    torch.manual_seed(0)
    for spec in SPECS:
        streams = ExplorationStreams(spec, 2, n_envs=2, seed=None)
        _draws(streams, 20)
        streams.reset([1])
    assert np.random.rand() == expected[0]  # noqa: NPY002
    assert torch.equal(torch.rand(1), expected[1])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("dropout:0.1", "continuous kinds"),
        ("gaussian:0.1,mode=multiplicative", "mode must be 'additive'"),
        ("gaussian:0.1,relative_to=range", "relative_to must be null"),
        ("gaussian:0.1,clip=space", "clip must be null"),
        ("gaussian:0.1,phases=train", "phases must include 'rollout'"),
        ("gaussian:0.1,resample=episode", "resample must be null or 'step'"),
        ("gaussian:0.1,where=actor.*", "where selects network parameters"),
        ("gaussian:0.1,adaptive=0.2", "adaptive must be null"),
    ],
)
def test_specs_that_cannot_be_exploration_noise_are_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_exploration_spec(spec)


def test_bad_sizes_name_the_field() -> None:
    with pytest.raises(ValueError, match="n_envs must be >= 1, got 0"):
        ExplorationStreams("gaussian:1", 1, n_envs=0)
    with pytest.raises(ValueError, match="does not broadcast"):
        ExplorationStreams({"kind": "gaussian", "scale": [0.1, 0.2, 0.3]}, 2)
