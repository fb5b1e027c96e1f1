"""The perturbation registry: a new type is one class, and the old names still import (warning)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO

import rlnoise.evaluation
from rlnoise.core.checks import check_float
from rlnoise.evaluation import Condition, build_grid, evaluate_robustness, register_perturbation
from rlnoise.evaluation.perturbations import GRID_KEYS, PERTURBATION_TYPES, base
from rlnoise.evaluation.perturbations.base import GridItem, Lanes, ObservationInjector

from .helpers import predict_episodes


@dataclass(frozen=True)
class ObservationOffset(base.Perturbation):
    """A constant added to every raw observation: a perturbation type written in one place."""

    offset: float
    type: ClassVar[str] = "obs_offset"
    grid_keys: ClassVar[tuple[str, ...]] = ("obs_offset",)

    def __post_init__(self) -> None:
        object.__setattr__(self, "offset", check_float("obs_offset.offset", self.offset))

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "offset": self.offset}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObservationOffset:
        return cls(**base.fields("obs_offset", data, ["offset"]))

    @property
    def label(self) -> str:
        return f"offset:{self.offset:g}"

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        levels, _ = base.grid_levels(key, section)
        return [GridItem(cls(level), "offset", level) for level in levels]

    def compile(self, lanes: Lanes) -> ObservationInjector:
        return _Offset(self.offset)


class _Offset(ObservationInjector):
    def __init__(self, offset: float) -> None:
        self.offset = offset

    def perturb(self, rows: np.ndarray) -> np.ndarray:
        return (rows + self.offset).astype(rows.dtype)


@pytest.fixture
def offset_type() -> Iterator[type]:
    register_perturbation(ObservationOffset)
    try:
        yield ObservationOffset
    finally:
        PERTURBATION_TYPES.pop("obs_offset")
        GRID_KEYS.pop("obs_offset")


def test_a_new_perturbation_type_works_everywhere_once_registered(
    offset_type: type, untrained_cartpole: PPO
) -> None:
    conditions = build_grid({"obs_offset": [0.2]})
    assert [c.name for c in conditions] == ["clean", "offset:0.2"]
    assert Condition.from_dict(conditions[1].to_dict()) == conditions[1]
    report = evaluate_robustness(
        untrained_cartpole, "CartPole-v1", conditions, 3, seed=4, device="cpu", progress=False
    )
    shifted = lambda env, _: gym.wrappers.TransformObservation(  # noqa: E731
        env, lambda obs: (obs + 0.2).astype(np.float32), env.observation_space
    )
    expected, _ = predict_episodes(untrained_cartpole, "CartPole-v1", [4, 5, 6], wrap=shifted)
    assert report.returns[0, 1].tolist() == expected


def test_a_type_or_grid_key_is_registered_once() -> None:
    @dataclass(frozen=True)
    class Clash(ObservationOffset):
        type: ClassVar[str] = "random_action"

    with pytest.raises(ValueError, match="perturbation type 'random_action' is already"):
        register_perturbation(Clash)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("ObservationNoise", "ObservationNoisePerturbation"),
        ("ActionNoise", "ActionNoisePerturbation"),
        ("WeightNoise", "WeightNoisePerturbation"),
        ("RandomAction", "RandomActionPerturbation"),
        ("StickyAction", "StickyActionPerturbation"),
        ("Dynamics", "DynamicsPerturbation"),
        ("ObservationAttack", "ObservationAttackPerturbation"),
    ],
)
def test_the_old_condition_class_names_still_import_with_a_warning(old: str, new: str) -> None:
    from rlnoise.evaluation import conditions

    with pytest.warns(DeprecationWarning, match=f"{old} is now .*{new}"):
        assert getattr(conditions, old) is getattr(rlnoise.evaluation, new)
    with pytest.warns(DeprecationWarning):
        assert getattr(rlnoise.evaluation, old) is getattr(rlnoise.evaluation, new)


def test_one_name_one_meaning() -> None:
    import rlnoise
    import rlnoise.nn

    public = {name for name in rlnoise.evaluation.__all__}
    assert not public & {"ObservationNoise", "ActionNoise", "WeightNoise"}
    assert rlnoise.ObservationNoise.__module__.startswith("rlnoise.wrappers")
    assert rlnoise.nn.WeightNoise.__module__.startswith("rlnoise.nn")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"type": "obs_noise", "noise": "gaussian:0.1,phases=train"}, r"obs_noise\.noise: phases"),
        ({"type": "obs_noise", "noise": "gaussian:0.1,relative_to=std"}, "relative_to='std'"),
        ({"type": "action_noise", "noise": "gaussian:0.1,resample=update"}, "resample='update'"),
        ({"type": "weight_noise", "noise": "salt_pepper:0.1"}, "makes no sense for weights"),
        ({"type": "weight_noise", "noise": "gaussian:0.1,resample=call"}, "once per episode"),
    ],
)
def test_conditions_take_what_the_training_injector_takes(data: dict, message: str) -> None:
    # Fields the injector would ignore are refused, not silently dropped.
    with pytest.raises(ValueError, match=message):
        Condition.from_dict({"name": "x", "perturbations": [data]})
