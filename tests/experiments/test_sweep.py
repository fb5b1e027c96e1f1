"""Sweeps: expansion into named experiments, errors blamed on the sweep key, training, discovery."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rlnoise.cli import main
from rlnoise.experiments.config import load_config
from rlnoise.experiments.sweep import MAX_MEMBERS, Sweep, expand_sweep, load_experiment
from rlnoise.runs.discovery import read_sweep


def _data(tmp_path: Path, sweep: Any, **changes: Any) -> dict[str, Any]:
    return {
        "name": "sw",
        "algo": "PPO",
        "env": {"id": "CartPole-v1", "n_envs": 1},
        "algo_kwargs": {"n_steps": 32, "batch_size": 32, "n_epochs": 1},
        "policy_kwargs": {"net_arch": [8]},
        "total_timesteps": 32,
        "seeds": [0],
        "device": "cpu",
        "output_dir": str(tmp_path / "sweep"),
        "sweep": sweep,
        **changes,
    }


def test_a_sweep_expands_into_every_combination_named_and_placed(tmp_path: Path) -> None:
    sweep = expand_sweep(
        _data(
            tmp_path,
            {
                "policy_kwargs.weight_noise.scale": [0.0, 0.05],
                "policy_kwargs.activation_noise.scale": [0.1],
                "algo_kwargs.learning_rate": {"slow": 1e-4, "fast": 1e-3},
            },
            policy="rlnoise.policies.NoisyActorCriticPolicy",
            policy_kwargs={
                "net_arch": [8],
                "weight_noise": {"kind": "gaussian"},
                "activation_noise": {"kind": "gaussian", "scale": 0.2},
            },
        )
    )
    # Keys read by the shortest ending that tells them apart; the last key varies fastest.
    assert sweep.labels == (
        "weight_noise.scale=0.0,activation_noise.scale=0.1,learning_rate=slow",
        "weight_noise.scale=0.0,activation_noise.scale=0.1,learning_rate=fast",
        "weight_noise.scale=0.05,activation_noise.scale=0.1,learning_rate=slow",
        "weight_noise.scale=0.05,activation_noise.scale=0.1,learning_rate=fast",
    )
    last = sweep.configs[-1]
    assert last.name == f"sw.{sweep.labels[-1]}"
    assert Path(last.output_dir) == tmp_path / "sweep" / sweep.labels[-1]
    assert last.algo_kwargs["learning_rate"] == 1e-3
    assert last.policy_kwargs["weight_noise"]["scale"] == 0.05  # validated, as any config
    assert last.policy_kwargs["activation_noise"]["scale"] == 0.1


def test_values_that_cannot_name_a_directory_are_numbered_or_cleaned(tmp_path: Path) -> None:
    wrappers = [[], [{"rlnoise.wrappers.ObservationNoise": {"spec": "gaussian:0.1"}}]]
    sweep = expand_sweep(_data(tmp_path, {"env.wrappers": wrappers}))
    assert sweep.labels == ("wrappers=v0", "wrappers=v1")
    assert [len(c.env.wrappers) for c in sweep.configs] == [0, 1]
    sweep = expand_sweep(_data(tmp_path, {"env.kwargs.render_mode": ["rgb_array", None]}))
    assert sweep.labels == ("render_mode=rgb_array", "render_mode=null")
    sweep = expand_sweep(
        _data(tmp_path, {"policy": ["MlpPolicy", "rlnoise.policies.NoisyActorCriticPolicy"]})
    )
    assert sweep.labels == ("policy=MlpPolicy", "policy=rlnoise.policies.NoisyActorCriticPolicy")
    sweep = expand_sweep(_data(tmp_path, {"policy_kwargs.net_arch.0": [8, 16], "device": ["cpu"]}))
    assert sweep.labels == ("0=8,device=cpu", "0=16,device=cpu")


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"env.n_envs": [1, 0]}, "sweep.env.n_envs = 0: env.n_envs must be"),
        (  # blamed on the key the problem names
            {"total_timesteps": [32], "env.n_envs": [0]},
            "sweep.env.n_envs = 0: env.n_envs must be",
        ),
        ({"polcy_kwargs.x": [1]}, "sweep.polcy_kwargs.x: unknown key 'polcy_kwargs'; valid keys"),
        ({"name": ["a", "b"]}, "sweep.name: name cannot be swept"),
        ({"output_dir": ["a"]}, "sweep.output_dir: output_dir cannot be swept"),
        ({"total_timesteps": []}, "sweep.total_timesteps must be a non-empty list of values"),
        ({"seeds": [[0], [0]]}, "sweep.seeds repeats the value [0]"),
        ({"total_timesteps": {"a/b": 10}}, "sweep.total_timesteps labels must be plain names"),
        (
            {"env.id.x": [1]},
            "sweep.env.id.x: env.id is 'CartPole-v1' in the config, not a mapping",
        ),
        (
            {"policy_kwargs.net_arch.3": [1]},
            "sweep.policy_kwargs.net_arch.3: policy_kwargs.net_arch "
            "is a list of 1; '3' is not an index in it",
        ),
        ({}, "sweep must map at least one dotted key to its values, got {}"),
        ({"seeds": [[0], "x"]}, "sweep.seeds = 'x': seeds must be a non-empty list"),
    ],
)
def test_a_bad_sweep_is_one_line_naming_the_sweep_key(
    tmp_path: Path, sweep: dict, message: str
) -> None:
    with pytest.raises(ValueError) as error:
        expand_sweep(_data(tmp_path, sweep))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_a_sweep_is_bounded() -> None:
    values = list(range(MAX_MEMBERS + 1))
    with pytest.raises(ValueError, match=f"expands to {MAX_MEMBERS + 1} experiments; at most"):
        expand_sweep({"name": "big", "sweep": {"total_timesteps": values}})


def test_load_experiment_applies_overrides_before_the_sweep(tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(_data(tmp_path, {"total_timesteps": [32, 64]})))
    sweep = load_experiment(path, overrides=["seeds=[3]"])
    assert isinstance(sweep, Sweep) and [c.seeds for c in sweep.configs] == [(3,), (3,)]
    with pytest.raises(ValueError, match=r"declares a sweep .* rlnoise train runs it"):
        load_config(path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_data(tmp_path, {"total_timesteps": [0]})))
    with pytest.raises(ValueError, match=f"^{bad}: sweep.total_timesteps = 0: total_timesteps"):
        load_experiment(bad)


def test_train_a_sweep_then_evaluate_every_member_from_its_root(tmp_path: Path, capsys) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(_data(tmp_path, {"algo_kwargs.learning_rate": [1e-3, 3e-4]})))
    assert main(["train", str(path), "--no-progress"]) == 0
    root = tmp_path / "sweep"
    assert read_sweep(root)["members"] == ["learning_rate=0.001", "learning_rate=0.0003"]
    for label in ("learning_rate=0.001", "learning_rate=0.0003"):
        assert (root / label / "seed_0" / "done.json").is_file()
    capsys.readouterr()
    assert main(["train", str(path), "--no-progress"]) == 0  # again: everything reused
    assert capsys.readouterr().out.count("finished earlier, reused") == 2

    out = tmp_path / "eval"
    args = ["evaluate", "--runs", str(root), "--grid", "quick", "--episodes", "1"]
    args += ["--max-steps", "5", "--out", str(out), "--no-progress", "--no-plots"]
    assert main([*args, "--bootstrap", "10"]) == 0
    report = json.loads((out / "report.json").read_text())
    groups = [run["group"] for run in report["runs"]]
    assert groups == ["learning_rate=0.001", "learning_rate=0.0003"]  # the sweep's order


def test_a_sweep_root_refuses_another_sweep_or_an_experiment(tmp_path: Path, capsys) -> None:
    from rlnoise.experiments.train import train_many

    train_many([expand_sweep(_data(tmp_path, {"total_timesteps": [32]}))], log=None)
    other = expand_sweep(_data(tmp_path, {"total_timesteps": [32]}, name="other"))
    with pytest.raises(FileExistsError, match="holds the sweep 'sw', not 'other'"):
        train_many([other], log=None)
    config = load_experiment_dict(_data(tmp_path, None))
    with pytest.raises(FileExistsError, match="holds a sweep, not an experiment"):
        train_many([config], log=None)


def load_experiment_dict(data: dict[str, Any]) -> Any:
    from rlnoise.experiments.config import ExperimentConfig

    data = {k: v for k, v in data.items() if k != "sweep"}
    return ExperimentConfig.from_dict(data)
