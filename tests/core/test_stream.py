"""NoiseStream: seeding, scaling, schedules, modes, clipping, rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlnoise import NoiseSpec, NoiseStream
from rlnoise.core.kinds import KINDS


def _draws(stream: NoiseStream, steps: int) -> np.ndarray:
    return np.stack([np.array(stream.sample(), copy=True) for _ in range(steps)])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_same_seed_same_draws_different_seed_different(kind: str) -> None:
    spec = NoiseSpec(kind, 0.2)
    a = _draws(NoiseStream(spec, (3,), np.random.default_rng(0)), 20)
    b = _draws(NoiseStream(spec, (3,), np.random.default_rng(0)), 20)
    c = _draws(NoiseStream(spec, (3,), np.random.default_rng(1)), 20)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kind", ["gaussian", "uniform", "laplace", "ou", "colored"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_scaled_draw_equals_unit_draw_times_scale(kind: str, backend: str) -> None:
    def make(scale):
        rng = np.random.default_rng(7) if backend == "numpy" else torch.Generator().manual_seed(7)
        dtype = np.float64 if backend == "numpy" else torch.float64
        return NoiseStream(NoiseSpec(kind, scale), (4,), rng, n_rows=2, dtype=dtype)

    unit, scaled = make(1.0), make(0.37)
    for _ in range(30):
        np.testing.assert_allclose(
            np.asarray(scaled.sample()), 0.37 * np.asarray(unit.sample()), rtol=1e-12
        )


def test_per_dimension_scale() -> None:
    unit = NoiseStream("gaussian:1", (3,), np.random.default_rng(0))
    per_dim = NoiseStream(NoiseSpec("gaussian", [0.0, 1.0, 2.0]), (3,), np.random.default_rng(0))
    for _ in range(5):
        np.testing.assert_allclose(per_dim.sample(), unit.sample() * [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"scale has shape \(3,\).*\(2,\)"):
        NoiseStream(NoiseSpec("gaussian", [0.0, 1.0, 2.0]), (2,), np.random.default_rng(0))


def test_per_row_scale_override() -> None:
    stream = NoiseStream(
        "gaussian:1", (2,), np.random.default_rng(0), n_rows=3, scale=[[0.0], [1.0], [2.0]]
    )
    unit = NoiseStream("gaussian:1", (2,), np.random.default_rng(0), n_rows=3)
    np.testing.assert_allclose(stream.sample(), unit.sample() * np.array([[0.0], [1.0], [2.0]]))
    with pytest.raises(ValueError, match="does not broadcast"):
        NoiseStream("gaussian:1", (2,), np.random.default_rng(0), n_rows=3, scale=[1.0, 2.0, 3.0])


def test_schedule_follows_own_counter_then_outside_clock() -> None:
    spec = NoiseSpec(
        "gaussian", 2.0, schedule={"type": "linear", "start": 1.0, "end": 0.0, "steps": 4}
    )
    stream = NoiseStream(spec, (1,), np.random.default_rng(0))
    unit = NoiseStream("gaussian:1", (1,), np.random.default_rng(0))
    factors = [1.0, 0.75, 0.5, 0.25, 0.0]
    for factor in factors:
        assert stream.scale == 2.0 * factor
        np.testing.assert_allclose(stream.sample(), 2.0 * factor * unit.sample())
    stream.set_step(2)
    assert stream.scale == 1.0
    stream.sample()
    assert stream.t == 2 and stream.scale == 1.0  # the outside clock now owns t


def test_relative_to_range() -> None:
    spec = NoiseSpec("uniform", 0.1, relative_to="range")
    stream = NoiseStream(spec, (2,), np.random.default_rng(0), low=[-1.0, 0.0], high=[1.0, 10.0])
    np.testing.assert_allclose(stream.scale, [0.2, 1.0])
    with pytest.raises(ValueError, match=r"finite bounds; dimensions \[1\]"):
        NoiseStream(spec, (2,), np.random.default_rng(0), low=[-1.0, 0.0], high=[1.0, np.inf])
    with pytest.raises(ValueError, match="needs the bounds"):
        NoiseStream(spec, (2,), np.random.default_rng(0))


def test_relative_to_std() -> None:
    stream = NoiseStream(
        NoiseSpec("gaussian", 0.5, relative_to="std"), (2,), np.random.default_rng(0)
    )
    stream.set_reference_std([2.0, 4.0])
    np.testing.assert_allclose(stream.scale, [1.0, 2.0])


def test_multiplicative_mode() -> None:
    spec = NoiseSpec("gaussian", 0.1, mode="multiplicative")
    noisy = NoiseStream(spec, (3,), np.random.default_rng(0)).perturb(np.array([1.0, 2.0, -3.0]))
    noise = NoiseStream("gaussian:0.1", (3,), np.random.default_rng(0)).sample()
    np.testing.assert_allclose(noisy, np.array([1.0, 2.0, -3.0]) * (1 + noise))


def test_clip_to_space_and_explicit_bounds_keep_non_finite_values() -> None:
    spec = NoiseSpec("gaussian", 10.0, clip="space")
    stream = NoiseStream(spec, (3,), np.random.default_rng(0), low=-1.0, high=1.0)
    out = stream.perturb(np.array([0.0, np.inf, np.nan]))
    assert -1.0 <= out[0] <= 1.0 and out[1] == np.inf and np.isnan(out[2])
    explicit = NoiseStream(
        NoiseSpec("gaussian", 10.0, clip=[0, 0.5]), (100,), np.random.default_rng(0)
    )
    out = explicit.perturb(np.zeros(100))
    assert out.min() >= 0.0 and out.max() <= 0.5
    with pytest.raises(ValueError, match="clip='space' needs the bounds"):
        NoiseStream(spec, (3,), np.random.default_rng(0))


def test_additive_noise_never_turns_finite_into_nan() -> None:
    stream = NoiseStream("laplace:1", (1000,), np.random.default_rng(0), dtype=np.float32)
    assert np.isfinite(stream.perturb(np.zeros(1000, np.float32))).all()


def test_dropout_keeps_non_finite_and_dtype() -> None:
    stream = NoiseStream("dropout:1.0", (3,), np.random.default_rng(0), dtype=np.float32)
    out = stream.perturb(np.array([1.0, np.inf, 2.0], np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [0.0, np.inf, 0.0])


def test_salt_pepper_uses_space_bounds_or_values() -> None:
    stream = NoiseStream("salt_pepper:1.0", (1000,), np.random.default_rng(0), low=-2.0, high=3.0)
    assert set(np.unique(stream.perturb(np.zeros(1000)))) == {-2.0, 3.0}
    explicit = NoiseStream("salt_pepper:1.0,values=0+255", (100,), np.random.default_rng(0))
    assert set(np.unique(explicit.perturb(np.zeros(100)))) == {0.0, 255.0}
    with pytest.raises(ValueError, match="salt_pepper needs impulse values"):
        NoiseStream("salt_pepper:0.5", (3,), np.random.default_rng(0)).perturb(np.zeros(3))


def test_per_row_generators_make_rows_independent_of_batch() -> None:
    def first_row(n_rows: int, kind: str) -> np.ndarray:
        rngs = [np.random.default_rng(50 + i) for i in range(n_rows)]
        return _draws(NoiseStream(NoiseSpec(kind, 0.3), (2,), rngs), 300)[:, 0]

    for kind in ("gaussian", "ou", "colored", "dropout"):
        np.testing.assert_array_equal(first_row(1, kind), first_row(5, kind))


def test_reset_without_generator_continues_with_seed_restarts() -> None:
    fresh = _draws(NoiseStream("ou:0.3", (2,), np.random.default_rng(3)), 10)
    stream = NoiseStream("ou:0.3", (2,), np.random.default_rng(99))
    _draws(stream, 7)
    stream.reset(rngs=np.random.default_rng(3))
    np.testing.assert_array_equal(_draws(stream, 10), fresh)


def test_torch_stream_perturbs_tensors() -> None:
    stream = NoiseStream(
        "gaussian:0.1,clip=space", (3,), torch.Generator().manual_seed(0), low=-0.05, high=0.05
    )
    out = stream.perturb(torch.zeros(3))
    unclipped = NoiseStream("gaussian:0.1", (3,), torch.Generator().manual_seed(0)).sample()
    assert isinstance(out, torch.Tensor)
    assert torch.equal(out, unclipped.clamp(-0.05, 0.05))  # the same draw, clipped to the space


def test_constant_schedule_value_scales_the_draws() -> None:
    half = NoiseStream(
        NoiseSpec("gaussian", 1.0, schedule={"type": "constant", "value": 0.5}),
        (3,),
        np.random.default_rng(0),
    )
    unit = NoiseStream("gaussian:1", (3,), np.random.default_rng(0))
    assert half.scale == 0.5
    np.testing.assert_allclose(half.sample(), 0.5 * unit.sample())


@pytest.mark.parametrize("kind", ["gaussian", "ou", "colored"])
def test_streams_pickle_and_deepcopy_mid_stream(kind: str) -> None:
    import copy
    import pickle

    stream = NoiseStream(NoiseSpec(kind, 0.2), (2,), np.random.default_rng(0), n_rows=3)
    _draws(stream, 5)
    for clone in (pickle.loads(pickle.dumps(stream)), copy.deepcopy(stream)):
        np.testing.assert_array_equal(_draws(clone, 10), _draws(copy.deepcopy(stream), 10))
    torch_stream = NoiseStream("gaussian:0.1", (2,), torch.Generator().manual_seed(0))
    assert torch.equal(pickle.loads(pickle.dumps(torch_stream)).sample(), torch_stream.sample())


def test_perturb_keeps_a_floating_inputs_dtype() -> None:
    stream = NoiseStream("ou:0.3", (4,), np.random.default_rng(0))  # float64 draws
    twin = NoiseStream("ou:0.3", (4,), np.random.default_rng(0))
    x = np.linspace(-1, 1, 4, dtype=np.float32)
    out = stream.perturb(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, (x + twin.sample()).astype(np.float32))
    assert stream.perturb(np.zeros(4, np.uint8)).dtype == np.float64  # integers: unrounded floats
    torch_stream = NoiseStream("gaussian:0.1", (3,), torch.Generator().manual_seed(0))
    assert torch_stream.perturb(torch.zeros(3, dtype=torch.float64)).dtype == torch.float64


def _twins(text: str, seeds: list[int]) -> tuple[NoiseStream, NoiseStream]:
    """A stream and unit Gaussians from the same seeds: the increments it will draw."""
    rows = [np.random.default_rng(s) for s in seeds]
    same = [np.random.default_rng(s) for s in seeds]
    return NoiseStream(text, (3,), rows), NoiseStream("gaussian:1", (3,), same)


@pytest.mark.parametrize("text", ["ou:0.4,theta=0.5,dt=0.1", "ou:0.4,theta=0.5,mean=0.7"])
def test_ou_peek_is_the_next_draw_without_advancing(text: str) -> None:
    seeds = [1, 2, 3]
    stream, increments = _twins(text, seeds)
    twin, _ = _twins(text, seeds)
    for _ in range(5):
        stream.sample(), increments.sample(), twin.sample()
    rows = np.array([0, 2])
    peeked = stream.peek(rows, increments.sample()[rows])  # the increments it will draw
    following = stream.sample()
    np.testing.assert_array_equal(peeked, following[rows])
    np.testing.assert_array_equal(following, twin.sample())  # peek advanced nothing


def test_colored_peek_continues_live_sequences_and_starts_used_up_ones_fresh() -> None:
    stream = NoiseStream("colored:0.5,length=8", (2,), [np.random.default_rng(s) for s in (4, 5)])
    twin = NoiseStream("colored:0.5,length=8", (2,), [np.random.default_rng(s) for s in (4, 5)])
    fresh = np.full((2, 2), 3.0)
    for _ in range(3):
        stream.sample(), twin.sample()
    np.testing.assert_array_equal(stream.peek(np.arange(2), fresh), twin.sample())
    for _ in range(4):
        stream.sample(), twin.sample()
    stream.sample()  # the eighth and last step of the sequences
    np.testing.assert_array_equal(stream.peek(np.arange(2), fresh), fresh * 0.5)


def test_white_peek_scales_the_fresh_draws_row_by_row() -> None:
    stream = NoiseStream(
        "uniform:1", (2,), np.random.default_rng(0), n_rows=3, scale=[[1], [2], [3]]
    )
    fresh = np.ones((2, 2))
    np.testing.assert_array_equal(stream.peek(np.array([0, 2]), fresh), [[1, 1], [3, 3]])


@pytest.mark.parametrize("text", ["gaussian:0.3", "uniform:0.2,mode=multiplicative", "laplace:1"])
def test_sampler_and_unit_draws_hand_out_the_same_noise(text: str) -> None:
    spec = NoiseSpec.parse(text)
    scaled = NoiseStream(spec, (4,), np.random.default_rng(0))
    fast = NoiseStream(spec, (4,), np.random.default_rng(0)).sampler
    units = NoiseStream(spec, (4,), np.random.default_rng(0), unit_draws=True)
    for _ in range(300):  # over a block boundary
        unit, factor = units.draw()
        expected = scaled.sample()
        np.testing.assert_array_equal(fast(), expected)
        np.testing.assert_array_equal(unit * factor, expected)


def test_torch_rows_with_their_own_generators_match_single_streams() -> None:
    # The batched form an evaluation needs: row i is what one injector seeded i would draw.
    def gen(seed: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    for text in ("gaussian:0.2", "ou:0.3", "colored:0.1,length=16"):
        batch = NoiseStream(text, (3,), [gen(s) for s in (7, 8, 9)])
        singles = [NoiseStream(text, (3,), gen(s)) for s in (7, 8, 9)]
        for step in range(40):
            if step == 20:  # a new episode for row 1, from a new seed
                batch.reset([1], [gen(42)])
                singles[1] = NoiseStream(text, (3,), gen(42))
            rows = batch.sample()
            for i, single in enumerate(singles):
                torch.testing.assert_close(rows[i], single.sample(), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("text", "unit"),
    [("ou:0.4,theta=0.5,mean=0.2", "gaussian:1"), ("colored:0.5,length=4", "gaussian:1"),
     ("laplace:2", "laplace:1")],
)  # fmt: skip
def test_an_unbatched_peek_takes_no_rows(text: str, unit: str) -> None:
    # The unit stream from the same seed hands out the randomness the stream draws next
    # (colored: its sequence is still running, so the peek continues it instead).
    stream, twin, units = (
        NoiseStream(t, (3,), np.random.default_rng(0)) for t in (text, text, unit)
    )
    for _ in range(2):
        stream.sample(), twin.sample(), units.sample()
    peeked = stream.peek(None, units.sample())
    np.testing.assert_allclose(peeked, twin.sample(), rtol=1e-12)
