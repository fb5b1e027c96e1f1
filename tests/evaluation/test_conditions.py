"""Conditions: validation, dict round trips, and the errors users see."""

from __future__ import annotations

import json

import pytest

from rlnoise.core.spec import NoiseSpec
from rlnoise.evaluation.conditions import PERTURBATION_TYPES, Condition, as_condition
from rlnoise.evaluation.perturbations import (
    ActionNoisePerturbation,
    DynamicsPerturbation,
    ObservationAttackPerturbation,
    ObservationNoisePerturbation,
    RandomActionPerturbation,
    StickyActionPerturbation,
    WeightNoisePerturbation,
)

Attack, ObsNoise = ObservationAttackPerturbation, ObservationNoisePerturbation

EVERY_KIND = [
    ObservationNoisePerturbation("ou:0.2,theta=0.5", space="normalised"),
    ActionNoisePerturbation({"kind": "gaussian", "scale": 0.1}),
    RandomActionPerturbation(0.25),
    StickyActionPerturbation(0.3, duration=[1, 4]),
    DynamicsPerturbation(attributes={"length": 1.0}, make_kwargs={"sutton_barto_reward": True}),
    WeightNoisePerturbation("gaussian:0.01,where=action_net.*"),
    ObservationAttackPerturbation("pgd", 0.05, steps=7, random_start=True),
]


@pytest.mark.parametrize("perturbation", EVERY_KIND, ids=lambda p: p.type)
def test_every_perturbation_round_trips_through_json(perturbation: object) -> None:
    condition = Condition("c", (perturbation,), group="g", level=0.5)
    text = json.dumps(condition.to_dict())
    assert Condition.from_dict(json.loads(text)) == condition


def test_condition_key_ignores_the_name_but_not_the_perturbations() -> None:
    a = Condition("a", (ObservationNoisePerturbation("gaussian:0.1"),))
    b = Condition("b", (ObservationNoisePerturbation(NoiseSpec("gaussian", scale=0.1)),))
    c = Condition("c", (ObservationNoisePerturbation("gaussian:0.2"),))
    assert a.key == b.key != c.key
    assert Condition.clean().is_clean and not a.is_clean


def test_spaces_are_canonical() -> None:
    assert ObservationNoisePerturbation("gaussian:0.1", space="normalised").space == "normalized"
    with pytest.raises(ValueError, match="space must be one of"):
        ObservationNoisePerturbation("gaussian:0.1", space="latent")


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as info:
        as_condition({"name": "x", "perturbations": [{"type": "wind", "speed": 3}]})
    for known in PERTURBATION_TYPES:
        assert known in str(info.value)


def test_unknown_key_names_the_field() -> None:
    with pytest.raises(ValueError, match="unknown key 'prob'"):
        Condition.from_dict({"name": "x", "perturbations": [{"type": "random_action", "prob": 1}]})


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RandomActionPerturbation(1.5), "random_action.probability must be <= 1.0"),
        (lambda: StickyActionPerturbation(1.0), "sticky_action.probability must be < 1"),
        (lambda: StickyActionPerturbation(0.2, duration=[3, 1]), r"duration\[1\] must be >= 3"),
        (lambda: ObservationAttackPerturbation("fgsm", -0.1), "fgsm.eps must be >= 0.0"),
        (
            lambda: ObservationAttackPerturbation("fgsm", 0.1, steps=3),
            "fgsm takes exactly one step",
        ),
        (lambda: ObservationAttackPerturbation("cw", 0.1), "attack.method must be one of"),
        (lambda: WeightNoisePerturbation("ou:0.1"), "must be a stateless kind"),
        (
            lambda: ObservationNoisePerturbation("gaussian:0.1,schedule=annealed"),
            "constant schedule",
        ),
        (lambda: DynamicsPerturbation(), "at least one of attributes or make_kwargs"),
        (lambda: DynamicsPerturbation(attributes={"bad name": 1.0}), "keys must be identifiers"),
        (
            lambda: Condition("x", (RandomActionPerturbation(0.1), RandomActionPerturbation(0.2))),
            "more than one 'random_action'",
        ),
        (
            lambda: Condition(
                "x",
                (
                    ObservationAttackPerturbation("fgsm", 0.1),
                    ObservationAttackPerturbation("pgd", 0.1),
                ),
            ),
            "more than one observation attack",
        ),
        (lambda: Condition("", ()), "condition name must be a non-empty string"),
    ],
)
def test_bad_values_raise_value_errors_naming_the_field(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_attack_defaults() -> None:
    fgsm = ObservationAttackPerturbation("fgsm", 0.1)
    pgd = ObservationAttackPerturbation("pgd", 0.1)
    assert (fgsm.steps, fgsm.step_size) == (1, 0.1)
    assert pgd.steps == 10 and pgd.step_size == pytest.approx(0.025)
    assert fgsm.random_start is None  # chosen from the action space at run time
