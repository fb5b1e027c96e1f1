"""The grid builder: kinds x levels from dicts and YAML files."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rlnoise.evaluation.grid import build_grid, load_grid
from rlnoise.evaluation.perturbations import (
    DynamicsPerturbation,
    ObservationAttackPerturbation,
    ObservationNoisePerturbation,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "eval"


def test_kinds_times_levels() -> None:
    conditions = build_grid({"gaussian": [0, 0.05, 0.1, 0.2], "uniform": [0.1]})
    assert [c.name for c in conditions] == [
        "clean",
        "obs:gaussian:0",
        "obs:gaussian:0.05",
        "obs:gaussian:0.1",
        "obs:gaussian:0.2",
        "obs:uniform:0.1",
    ]
    noise = conditions[3].perturbations[0]
    assert isinstance(noise, ObservationNoisePerturbation) and noise.noise.scale == 0.1
    assert [c.level for c in conditions[1:5]] == [0, 0.05, 0.1, 0.2]
    assert {c.group for c in conditions[1:5]} == {"obs:gaussian"}


def test_mapping_levels_carry_spec_fields_and_space() -> None:
    (_, condition) = build_grid(
        {"observation_noise": {"ou": {"levels": [0.3], "theta": 0.5, "space": "normalized"}}}
    )
    noise = condition.perturbations[0]
    assert noise.space == "normalized" and noise.noise.param_dict["theta"] == 0.5
    assert condition.group == "obs[normalized]:ou"


def test_every_family() -> None:
    grid = {
        "clean": False,
        "action_noise": {"gaussian": [0.1]},
        "weight_noise": {"gaussian": [0.01]},
        "random_action": [0.1],
        "sticky_action": {"levels": [0.25], "duration": 2},
        "fgsm": [0.05],
        "pgd": {"eps": [0.05], "steps": 5, "random_start": True},
        "conditions": [
            {"name": "custom", "perturbations": [{"type": "random_action", "probability": 0.5}]}
        ],
    }
    names = [c.name for c in build_grid(grid)]
    assert names == [
        "action:gaussian:0.1",
        "weights:gaussian:0.01",
        "random_action:0.1",
        "sticky_action:0.25",
        "fgsm:0.05",
        "pgd:0.05",
        "custom",
    ]
    pgd = build_grid(grid)[5].perturbations[0]
    assert isinstance(pgd, ObservationAttackPerturbation) and pgd.steps == 5 and pgd.random_start


def test_dynamics_one_at_a_time_product_and_env_filter() -> None:
    grid = {
        "clean": False,
        "dynamics": [
            {"env": "CartPole-v1", "attributes": {"length": [0.25, 1.0], "masscart": [2.0]}},
            {"env": "Pendulum-v1", "make_kwargs": {"g": [5.0]}},
        ],
    }
    cartpole = build_grid(grid, env_id="CartPole-v1")
    assert [c.name for c in cartpole] == [
        "dynamics:length=0.25",
        "dynamics:length=1.0",
        "dynamics:masscart=2.0",
    ]
    assert [c.group for c in cartpole] == ["dynamics:length"] * 2 + ["dynamics:masscart"]
    pendulum = build_grid(grid, env_id="Pendulum-v1")
    assert pendulum[0].perturbations[0] == DynamicsPerturbation(make_kwargs={"g": 5.0})
    assert len(build_grid(grid)) == 4  # no env id: every entry
    product = build_grid(
        {
            "clean": False,
            "dynamics": {"attributes": {"length": [1, 2], "masscart": [1, 2, 3]}, "product": True},
        }
    )
    assert len(product) == 6 and all(c.group == "dynamics" and c.level is None for c in product)


def test_unknown_keys_and_kinds_are_listed() -> None:
    with pytest.raises(ValueError, match=r"unknown grid key 'gausian'.*'gaussian'"):
        build_grid({"gausian": [0.1]})
    with pytest.raises(ValueError, match="unknown noise kind 'pink'"):
        build_grid({"action_noise": {"pink": [0.1]}})
    with pytest.raises(ValueError, match="levels must be a non-empty list"):
        build_grid({"gaussian": []})
    with pytest.raises(ValueError, match=r"two conditions are named 'obs:gaussian:0\.1'"):
        build_grid({"gaussian": [0.1, 0.1]})


def test_yaml_files(tmp_path: Path) -> None:
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump({"laplace": [0.1, 0.2], "fgsm": [0.01]}))
    assert len(build_grid(path)) == 4
    path.write_text("- not a mapping\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        load_grid(path)
    with pytest.raises(FileNotFoundError):
        load_grid(tmp_path / "missing.yaml")


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIGS.glob("*.yaml")))
def test_shipped_configs_build(name: str) -> None:
    for env_id in ("CartPole-v1", "Pendulum-v1"):
        conditions = build_grid(CONFIGS / f"{name}.yaml", env_id=env_id)
        assert conditions[0].is_clean and len(conditions) >= 4


def test_default_grid_covers_the_required_families() -> None:
    groups = {c.group for c in build_grid(CONFIGS / "default.yaml", env_id="CartPole-v1")}
    assert {"obs:gaussian", "random_action", "fgsm", "dynamics:length"} <= groups


def test_bad_noise_levels_name_the_grid_field_and_named_grids_load() -> None:
    with pytest.raises(ValueError, match=r"grid\.gaussian level -0\.1: scale must be >= 0"):
        build_grid({"gaussian": [-0.1]})
    with pytest.raises(ValueError, match=r"action_noise\.uniform level -1: scale"):
        build_grid({"action_noise": {"uniform": [-1]}})
    with pytest.raises(ValueError, match=r"^obs_noise\.noise: kind must be one of"):
        ObservationNoisePerturbation("gausian:0.1")
    assert build_grid("quick", "CartPole-v1") == build_grid(
        load_grid(CONFIGS / "quick.yaml"), "CartPole-v1"
    )
    with pytest.raises(FileNotFoundError, match="named grids"):
        build_grid("no-such-grid")
