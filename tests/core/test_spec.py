"""NoiseSpec: validation, defaults, forms and round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from rlnoise import NoiseSpec, as_noise_spec
from rlnoise.core.kinds import KINDS
from rlnoise.core.schedules import AnnealedSchedule, LinearSchedule

EVERY_KIND = [
    NoiseSpec("gaussian", 0.1),
    NoiseSpec("uniform", [0.1, 0.2], mode="multiplicative", clip=[-1, 1]),
    NoiseSpec("laplace", 0.3, relative_to="range", clip="space"),
    NoiseSpec("salt_pepper", 0.05, params={"values": [0.0, 255.0], "salt_ratio": 0.3}),
    NoiseSpec("dropout", 0.2, params={"rescale": True}, phases=["train"], resample="update"),
    NoiseSpec("ou", 0.3, params={"theta": 0.5, "dt": 0.1, "mean": 0.2}, resample="episode"),
    NoiseSpec(
        "colored",
        [[0.1, 0.2], [0.3, 0.4]],
        params={"beta": 2.0, "length": 64},
        schedule={"type": "piecewise", "points": [[0, 1.0], [100, 0.5]]},
    ),
    NoiseSpec(
        "gaussian",
        1.0,
        schedule=AnnealedSchedule(eta=0.3),
        where=["mlp_extractor.policy_net.*", "action_net.*"],
        phases=("rollout", "eval"),
        resample=10,
        adaptive={"target": 0.2, "coefficient": 1.05},
    ),
]


@pytest.mark.parametrize("spec", EVERY_KIND, ids=lambda s: s.kind)
def test_dict_round_trip_is_exact_and_json_yaml_safe(spec: NoiseSpec) -> None:
    data = spec.to_dict()
    assert NoiseSpec.from_dict(data) == spec
    assert NoiseSpec.from_dict(json.loads(json.dumps(data))) == spec
    assert NoiseSpec.from_dict(yaml.safe_load(yaml.safe_dump(data))) == spec
    assert hash(NoiseSpec.from_dict(data)) == hash(spec)


def test_every_kind_is_covered_by_the_round_trip_cases() -> None:
    assert {spec.kind for spec in EVERY_KIND} == set(KINDS)


@pytest.mark.parametrize(
    ("text", "kind", "scale", "mode"),
    [
        ("gaussian:0.1", "gaussian", 0.1, "additive"),
        ("uniform:0.5", "uniform", 0.5, "additive"),
        ("laplace:2", "laplace", 2.0, "additive"),
        ("salt_pepper:0.01", "salt_pepper", 0.01, "replace"),
        ("dropout:0.3", "dropout", 0.3, "multiplicative"),
        ("ou:0.2", "ou", 0.2, "additive"),
        ("colored:0.1", "colored", 0.1, "additive"),
        ("gaussian", "gaussian", 0.1, "additive"),
    ],
)
def test_parse_gives_kind_scale_and_natural_default_mode(text, kind, scale, mode) -> None:
    spec = NoiseSpec.parse(text)
    assert (spec.kind, spec.scale, spec.mode) == (kind, scale, mode)


def test_parse_options() -> None:
    spec = NoiseSpec.parse(
        "ou:0.2, theta=0.5, dt=0.05, phases=rollout+train, where=a.*|b.*, clip=space,"
        " resample=episode"
    )
    assert spec.param_dict == {"theta": 0.5, "dt": 0.05, "mean": 0.0}
    assert spec.phases == ("rollout", "train")
    assert spec.where == ("a.*", "b.*")
    assert spec.clip == "space"
    assert spec.resample == "episode"
    assert NoiseSpec.parse("dropout:0.1,rescale=true").param_dict["rescale"] is True
    assert NoiseSpec.parse("salt_pepper:0.1,values=0+255").param_dict["values"] == (0.0, 255.0)
    assert NoiseSpec.parse("gaussian:0.1,schedule=annealed").schedule == AnnealedSchedule()


def test_as_noise_spec_accepts_the_three_forms_and_they_agree() -> None:
    spec = NoiseSpec("uniform", 0.05)
    assert as_noise_spec(spec) is spec
    assert as_noise_spec("uniform:0.05") == spec
    assert as_noise_spec({"kind": "uniform", "scale": 0.05}) == spec


def test_phases_are_canonically_ordered_and_active_in_uses_default() -> None:
    spec = NoiseSpec("gaussian", phases=["eval", "rollout", "eval"])
    assert spec.phases == ("rollout", "eval")
    assert spec.active_in("eval") and not spec.active_in("train")
    unset = NoiseSpec("gaussian")
    assert unset.active_in("train", default=("train",))
    assert not unset.active_in("rollout", default=("train",))


def test_scale_array_checks_per_dimension_shape() -> None:
    spec = NoiseSpec("gaussian", [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(spec.scale_array((4, 3)), [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"shape \(3,\).*\(4,\)"):
        spec.scale_array((4,))


def test_replace_validates_and_merges_params() -> None:
    spec = NoiseSpec.parse("ou:0.2,theta=0.5")
    assert spec.replace(params={"dt": 0.5}).param_dict == {"theta": 0.5, "dt": 0.5, "mean": 0.0}
    with pytest.raises(ValueError, match="scale"):
        spec.replace(scale=float("nan"))


def test_schedule_accepts_object_name_or_dict() -> None:
    linear = LinearSchedule(start=1.0, end=0.0, steps=10)
    assert NoiseSpec("gaussian", schedule=linear).schedule is linear
    assert NoiseSpec("gaussian", schedule=linear.to_dict()).schedule == linear


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "gauss"}, r"kind must be one of \['colored', 'dropout', 'gaussian'"),
        ({"scale": 0.1}, "needs a 'kind'"),
        ({"kind": "gaussian", "scale": -0.1}, "scale must be >= 0.0, got -0.1"),
        ({"kind": "gaussian", "scale": float("nan")}, "scale must be finite, got nan"),
        ({"kind": "gaussian", "scale": float("inf")}, "scale must be finite, got inf"),
        ({"kind": "gaussian", "scale": "0.1"}, "scale must be a number, got '0.1'"),
        ({"kind": "gaussian", "scale": True}, "scale must be a number, got True"),
        ({"kind": "gaussian", "scale": 10**400}, "scale must be a finite number"),
        ({"kind": "gaussian", "scale": []}, "scale must be a number or a non-empty list"),
        ({"kind": "dropout", "scale": 1.5}, "scale must be <= 1.0, got 1.5"),
        ({"kind": "salt_pepper", "scale": -0.1}, "scale must be >= 0.0"),
        ({"kind": "gaussian", "sigma": 0.1}, r"unknown key 'sigma'.*valid keys are \["),
        ({"kind": "gaussian", "theta": 0.1}, "unknown key 'theta'"),
        ({"kind": "ou", "theta": -1}, "theta must be >= 0.0, got -1"),
        ({"kind": "ou", "dt": 0}, "dt must be > 0.0, got 0"),
        ({"kind": "colored", "length": 1}, "length must be >= 2, got 1"),
        ({"kind": "colored", "length": 10**9}, "length must be <= 1000000"),
        ({"kind": "colored", "beta": "pink"}, "beta must be a number, got 'pink'"),
        ({"kind": "salt_pepper", "salt_ratio": 2}, "salt_ratio must be <= 1.0, got 2"),
        ({"kind": "salt_pepper", "values": [1]}, r"values must be \[low, high\]"),
        ({"kind": "dropout", "rescale": "yes"}, "rescale must be true or false, got 'yes'"),
        (
            {"kind": "gaussian", "mode": "replace"},
            r"mode must be one of \['additive', 'multiplicative'\] for kind 'gaussian'",
        ),
        ({"kind": "gaussian", "mode": "add"}, r"mode must be one of \['additive'"),
        ({"kind": "dropout", "relative_to": "range"}, "relative_to is meaningless"),
        (
            {"kind": "gaussian", "relative_to": "max"},
            r"relative_to must be one of \['range', 'std'\]",
        ),
        ({"kind": "gaussian", "clip": [1, -1]}, "low < high"),
        ({"kind": "gaussian", "clip": "bounds"}, "clip must be null, 'space' or"),
        (
            {"kind": "gaussian", "phases": ["training"]},
            r"phases must be one of \['rollout', 'train', 'eval'\]",
        ),
        ({"kind": "gaussian", "phases": []}, "phases must name at least one"),
        ({"kind": "gaussian", "resample": "often"}, r"resample must be one of \['call'"),
        ({"kind": "gaussian", "resample": 0}, "resample must be >= 1, got 0"),
        ({"kind": "gaussian", "where": [""]}, "where entries must be non-empty strings"),
        ({"kind": "gaussian", "where": 3}, "where must be a string or a list of strings"),
        ({"kind": "gaussian", "adaptive": {"coefficient": 1.1}}, "adaptive needs a 'target'"),
        (
            {"kind": "gaussian", "adaptive": {"target": 0.1, "coefficient": 0.9}},
            "adaptive.coefficient must be > 1.0",
        ),
        (
            {"kind": "gaussian", "schedule": {"type": "sawtooth"}},
            r"schedule.type must be one of \['annealed'",
        ),
        (
            {"kind": "gaussian", "schedule": {"type": "linear", "steps": 0}},
            "schedule.steps must be >= 1, got 0",
        ),
        (
            {"kind": "gaussian", "schedule": {"type": "linear", "stop": 1}},
            r"unknown key 'stop' in schedule \(linear\)",
        ),
    ],
)
def test_bad_specs_raise_value_error_naming_field_and_value(data, message) -> None:
    with pytest.raises(ValueError, match=message):
        NoiseSpec.from_dict(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "kind must be one of"),
        ("gaussian:abc", "scale must be a number, got 'abc'"),
        ("gaussian:0.1,theta", "must be key=value"),
        ("gaussian:0.1,mode=additive,mode=additive", "given twice"),
        ("pink:0.1", r"kind must be one of .* got 'pink'"),
    ],
)
def test_bad_strings_raise_value_error(text, message) -> None:
    with pytest.raises(ValueError, match=message):
        NoiseSpec.parse(text)


@pytest.mark.parametrize("value", [None, 3, 0.1, ["gaussian"], object()])
def test_as_noise_spec_rejects_other_types(value) -> None:
    with pytest.raises(ValueError, match="a noise spec must be a NoiseSpec, a mapping or a string"):
        as_noise_spec(value)


def test_spec_is_immutable() -> None:
    spec = NoiseSpec("gaussian", 0.1)
    with pytest.raises(AttributeError):
        spec.scale = 0.2  # type: ignore[misc]


def test_replace_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match=r"unknown key 'sigma' in NoiseSpec\.replace"):
        NoiseSpec("gaussian").replace(sigma=0.1)


@pytest.mark.parametrize(
    "text",
    [
        "gaussian:0.1",
        "ou:0.3,theta=0.5,dt=0.05,mean=-0.1",
        "dropout:0.2,rescale=true,phases=train,resample=update",
        "gaussian:0.1,where=a.*|b.*,mode=multiplicative,adaptive=0.2",
        "salt_pepper:0.1,values=0+255,salt_ratio=0.3",
        "uniform:0.05,clip=-1+1,relative_to=range,schedule=annealed",
        "laplace:2,clip=space,resample=10",
    ],
)
def test_str_is_the_compact_form_and_parses_back(text: str) -> None:
    spec = NoiseSpec.parse(text)
    assert NoiseSpec.parse(str(spec)) == spec  # no option silently dropped
    assert str(spec) == spec.to_string()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_bad_mode_lists_only_the_modes_of_its_kind(kind: str) -> None:
    modes = KINDS[kind].modes
    with pytest.raises(ValueError) as error:
        NoiseSpec.parse(f"{kind}:0.1,mode=additve")
    message = str(error.value)
    assert f"mode must be one of {list(modes)} for kind {kind!r}, got 'additve'" in message
    for other in {"additive", "multiplicative", "replace"} - set(modes):
        assert f"'{other}'" not in message.split("got")[0]


@pytest.mark.parametrize(
    ("text", "field", "value"),
    [
        ("salt_pepper:0.05,values=[-5,5]", "values", (-5.0, 5.0)),
        ("salt_pepper:0.05,values=[ -5 , 5 ],salt_ratio=0.3", "values", (-5.0, 5.0)),
        ("gaussian:0.1,clip=[-1,1]", "clip", (-1.0, 1.0)),
        ("gaussian:0.1,phases=[rollout,train]", "phases", ("rollout", "train")),
    ],
)
def test_bracket_lists_parse_as_the_errors_suggest_and_round_trip(
    text: str, field: str, value: object
) -> None:
    spec = NoiseSpec.parse(text)
    got = spec.param_dict[field] if field in spec.param_dict else getattr(spec, field)
    assert got == value
    assert NoiseSpec.parse(str(spec)) == spec


def test_the_values_error_shows_a_form_that_parses() -> None:
    with pytest.raises(ValueError, match=r"values must be \[low, high\]") as error:
        NoiseSpec.parse("salt_pepper:0.05,values=[5]")
    suggested = str(error.value).split(" must be ")[1].split(" or ")[0]  # "[low, high]"
    filled = suggested.replace("low", "-5").replace("high", "5")
    assert NoiseSpec.parse(f"salt_pepper:0.05,values={filled}").param_dict["values"] == (-5, 5)


def test_a_spec_without_compact_form_says_so_and_prints_its_label() -> None:
    spec = NoiseSpec("gaussian", 0.1, schedule={"type": "linear", "steps": 100})
    with pytest.raises(ValueError, match=r"schedule .* has no compact form; use to_dict"):
        spec.to_string()
    assert str(spec) == "gaussian:0.1"
    with pytest.raises(ValueError, match=r"scale .* has no compact form"):
        NoiseSpec("gaussian", [0.1, 0.2]).to_string()
