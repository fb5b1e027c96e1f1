"""Schedules: exact values at chosen steps, validation and serialisation."""

from __future__ import annotations

import math
from types import MappingProxyType

import pytest

from rlnoise import NoiseSpec
from rlnoise.core.schedules import (
    SCHEDULES,
    AnnealedSchedule,
    ConstantSchedule,
    CosineSchedule,
    ExponentialSchedule,
    LinearSchedule,
    PiecewiseSchedule,
    schedule_from_dict,
)


def test_constant() -> None:
    assert [ConstantSchedule()(t) for t in (0, 1, 10**9)] == [1.0, 1.0, 1.0]
    assert ConstantSchedule(value=0.5)(7) == 0.5
    assert ConstantSchedule().is_constant
    assert not LinearSchedule(steps=10).is_constant


def test_linear_exact_values() -> None:
    sched = LinearSchedule(start=1.0, end=0.25, steps=8, begin=2)
    assert [sched(t) for t in (0, 2, 4, 6, 10, 100)] == [1.0, 1.0, 0.8125, 0.625, 0.25, 0.25]
    assert LinearSchedule(start=1.0, end=0.2, steps=3)(3) == 0.2


def test_exponential_exact_values() -> None:
    smooth = ExponentialSchedule(start=2.0, decay_rate=0.5, transition_steps=4)
    assert [smooth(t) for t in (0, 4, 8, 12)] == [2.0, 1.0, 0.5, 0.25]
    assert smooth(2) == 2.0 * 0.5**0.5
    stairs = ExponentialSchedule(start=2.0, decay_rate=0.5, transition_steps=4, staircase=True)
    assert [stairs(t) for t in (0, 3, 4, 7, 8)] == [2.0, 2.0, 1.0, 1.0, 0.5]
    floored = ExponentialSchedule(start=1.0, decay_rate=0.5, transition_steps=1, end=0.1)
    assert floored(100) == 0.1
    capped = ExponentialSchedule(start=1.0, decay_rate=2.0, transition_steps=1, end=8.0)
    assert [capped(t) for t in (2, 3, 50)] == [4.0, 8.0, 8.0]


def test_cosine_exact_values() -> None:
    sched = CosineSchedule(start=1.0, end=0.0, steps=100)
    assert sched(0) == 1.0
    assert sched(50) == 0.5
    assert sched(100) == 0.0
    assert sched(1000) == 0.0
    assert sched(25) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)), abs=1e-15)


def test_piecewise_linear_and_step() -> None:
    points = ((10, 1.0), (20, 0.5), (40, 0.1))
    linear = PiecewiseSchedule(points=points)
    assert [linear(t) for t in (0, 10, 15, 20, 30, 40, 99)] == [1.0, 1.0, 0.75, 0.5, 0.3, 0.1, 0.1]
    step = PiecewiseSchedule(points=points, interpolation="step")
    assert [step(t) for t in (0, 15, 19, 20, 39, 40)] == [1.0, 1.0, 1.0, 0.5, 0.5, 0.1]


def test_annealed_is_the_std_of_neelakantan_variance() -> None:
    sched = AnnealedSchedule(eta=0.3, gamma=0.55)
    for t in (0, 1, 2, 10, 1000):
        assert sched(t) == math.sqrt(0.3 / (1 + t) ** 0.55)
    assert AnnealedSchedule(eta=0.01)(0) == 0.1


@pytest.mark.parametrize(
    "sched",
    [
        ConstantSchedule(0.3),
        LinearSchedule(1.0, 0.1, 50, 5),
        ExponentialSchedule(1.0, 0.9, 3, True, 0.2),
        CosineSchedule(0.5, 0.1, 40),
        PiecewiseSchedule(((0, 1.0), (5, 2.0))),
        AnnealedSchedule(1.0, 0.55),
    ],
    ids=lambda s: s.type_name,
)
def test_round_trip(sched) -> None:
    assert schedule_from_dict(sched.to_dict()) == sched
    assert schedule_from_dict(sched.to_dict())(17) == sched(17)


def test_every_registered_schedule_is_tested() -> None:
    assert set(SCHEDULES) == {
        "constant",
        "linear",
        "exponential",
        "cosine",
        "piecewise",
        "annealed",
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "piecewise", "points": []}, "non-empty list"),
        ({"type": "piecewise", "points": [[5, 1.0], [5, 2.0]]}, "increase strictly"),
        (
            {"type": "piecewise", "points": [[0, 1.0]], "interpolation": "cubic"},
            "interpolation must be one of",
        ),
        ({"type": "exponential", "decay_rate": 0}, "decay_rate must be > 0.0"),
        ({"type": "exponential", "staircase": 1}, "staircase must be true or false"),
        ({"type": "annealed", "eta": -1}, "schedule.eta must be >= 0.0"),
        ({"type": "linear", "start": -1}, "schedule.start must be >= 0.0"),
        ("sawtooth", "schedule.type must be one of"),
        (3, "schedule must be a name or a mapping"),
    ],
)
def test_bad_schedules(data, message) -> None:
    with pytest.raises(ValueError, match=message):
        schedule_from_dict(data)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_a_schedule_with_a_length_needs_it(kind: str) -> None:
    # A default length of one step would switch the noise off after the first step.
    with pytest.raises(ValueError, match=rf"schedule\.steps is required for a '{kind}' schedule"):
        schedule_from_dict(kind)
    with pytest.raises(ValueError, match=r"schedule\.steps is required"):
        NoiseSpec.parse(f"gaussian:0.1,schedule={kind}")
    assert schedule_from_dict({"type": kind, "steps": 4})(4) == 0.0


def test_any_mapping_describes_a_schedule() -> None:
    data = MappingProxyType({"type": "linear", "start": 1.0, "end": 0.5, "steps": 2})
    assert schedule_from_dict(data) == LinearSchedule(start=1.0, end=0.5, steps=2)
