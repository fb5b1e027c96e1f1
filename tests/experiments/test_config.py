"""Experiment configs: validation messages, allow-list, overrides, YAML errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rlnoise.experiments.config import (
    ExperimentConfig,
    apply_overrides,
    build_policy_kwargs,
    load_config,
    resolve_class,
)

BASE = {
    "name": "x",
    "algo": "PPO",
    "env": {"id": "CartPole-v1"},
    "total_timesteps": 100,
    "seeds": [0],
}


def test_minimal_config_defaults_and_round_trip() -> None:
    config = ExperimentConfig.from_dict(BASE)
    assert (
        config.output_dir == "runs/x" and config.policy == "MlpPolicy" and config.device == "auto"
    )
    assert ExperimentConfig.from_dict(config.to_dict()) == config


def test_wrappers_and_callbacks_in_rl_zoo_form() -> None:
    data = {
        **BASE,
        "env": {
            "id": "CartPole-v1",
            "wrappers": [
                "gymnasium.wrappers.TimeAwareObservation",
                {"gymnasium.wrappers.ClipReward": {"min_reward": -1, "max_reward": 1}},
            ],
        },
        "callbacks": [
            {"stable_baselines3.common.callbacks.StopTrainingOnMaxEpisodes": {"max_episodes": 5}}
        ],
    }
    config = ExperimentConfig.from_dict(data)
    assert [w.path for w in config.env.wrappers][1] == "gymnasium.wrappers.ClipReward"
    assert config.env.wrappers[1].kwargs == {"min_reward": -1, "max_reward": 1}
    assert config.callbacks[0].build().max_episodes == 5


def test_policy_kwargs_classes_resolve_by_dotted_path() -> None:
    kwargs = build_policy_kwargs({"activation_fn": "torch.nn.Tanh", "net_arch": [8]})
    assert kwargs == {"activation_fn": torch.nn.Tanh, "net_arch": [8]}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"algos": "PPO"},
            r"unknown key 'algos' in config; valid keys are \['algo', 'algo_kwargs'",
        ),
        (
            {"env": {"id": "CartPole-v1", "n_env": 2}},
            r"unknown key 'n_env' in env; valid keys are \[",
        ),
        ({"total_timesteps": "10k"}, r"total_timesteps must be an integer, got '10k' \(str\)"),
        ({"total_timesteps": 1.5}, r"total_timesteps must be an integer, got 1.5 \(float\)"),
        ({"seeds": []}, r"seeds must be a non-empty list of integers in \[0, 4294967295\], got"),
        ({"seeds": [0, 0]}, "seeds must not repeat"),
        ({"algo": "PPPO"}, r"algo must be one of \['A2C', 'DDPG'"),
        ({"algo": "os.system"}, "algo 'os.system' is outside the allowed modules"),
        ({"policy": "builtins.eval"}, "policy 'builtins.eval' is outside the allowed modules"),
        ({"policy": "rlnoise.NoSuchPolicy"}, "module 'rlnoise' has no 'NoSuchPolicy'"),
        ({"policy_kwargs": {"activation_fn": "subprocess.call"}}, "outside the allowed modules"),
        (
            {"env": {"id": "CartPole-v1", "wrappers": ["shutil.rmtree"]}},
            "outside the allowed modules",
        ),
        (
            {"env": {"id": "CartPole-v1", "vec_env": "ray"}},
            r"env.vec_env must be one of \['dummy', 'subproc'\]",
        ),
        ({"env": {"id": "CartPole-v1", "n_envs": 0}}, "env.n_envs must be >= 1"),
        ({"env": {"n_envs": 2}}, "env needs an 'id'"),
        ({"device": 0}, r"device must be a string, got 0 \(int\)"),
        (
            {"algo_kwargs": {"learning_starts": 10}},
            r"unknown key 'learning_starts' in algo_kwargs for PPO; valid keys are \['batch_size'",
        ),
        ({"algo_kwargs": {"seed": 1}}, "algo_kwargs.seed is set by rlnoise from the config"),
        ({"algo_kwargs": {"n_steps": "abc"}}, r"algo_kwargs.n_steps must be int for PPO, got .abc"),
        ({"algo_kwargs": {"gamma": True}}, r"algo_kwargs.gamma must be float for PPO, got True"),
        (
            {"policy_kwargs": {"net_arh": [8]}},
            r"unknown key 'net_arh' in policy_kwargs for ActorCriticPolicy; valid keys are "
            r"\['activation_fn', ",
        ),
        (
            {"policy": "rlnoise.policies.NoisyActorCriticPolicy", "policy_kwargs": {"netarch": []}},
            r"unknown key 'netarch' in policy_kwargs for NoisyActorCriticPolicy; .*'net_arch', "
            r"'noise_seed'",
        ),
        (
            {"policy_kwargs": {"ortho_init": "no"}},
            r"policy_kwargs.ortho_init must be bool for ActorCriticPolicy, got 'no'",
        ),
        (
            {"policy_kwargs": {"net_arch": 8}},
            r"policy_kwargs.net_arch must be list\[int\] \| dict\[str, list\[int\]\] \| None "
            r"for ActorCriticPolicy, got 8 \(int\)",
        ),
        (
            {"algo_kwargs": {"learning_rate": "lin_0.001"}},
            r"algo_kwargs.learning_rate must be float \| Callable\[\[float\], float\] for PPO",
        ),
        (
            {"algo": "DQN", "algo_kwargs": {"train_freq": "4"}},
            r"algo_kwargs.train_freq must be int \| tuple\[int, str\] for DQN, got '4' \(str\)",
        ),
        ({"seeds": [-1]}, r"seeds must be a non-empty list of integers in .*, got \[-1\]"),
        ({"device": "gpu"}, "device must be 'auto' or a torch device such as 'cpu' .* got 'gpu'"),
        (
            {"policy": "MlpPolicyy"},
            r"policy must be one of \['CnnPolicy', 'MlpPolicy', 'MultiInputPolicy'\] for PPO",
        ),
        (
            {"env": {"id": "CartPole-v1",
                     "wrappers": [{"rlnoise.wrappers.ObservationNoise": {"sepc": "gaussian"}}]}},
            r"unknown key 'sepc' in env.wrappers\[0\] \(rlnoise.wrappers.ObservationNoise\) kwargs",
        ),
        (
            {"env": {"id": "CartPole-v1",
                     "wrappers": [{"rlnoise.wrappers.ObservationNoise": {"env": "x"}}]}},
            r"unknown key 'env' in env.wrappers\[0\] .* kwargs; valid keys are \['spec'\] "
            r"\(and 1 more problem\)$",  # the missing spec
        ),
        (
            {"callbacks": [{"rlnoise.callbacks.GradientNoiseCallback": {"etaa": 0.01}}]},
            r"unknown key 'etaa' in callbacks\[0\] \(rlnoise.callbacks.GradientNoiseCallback\)",
        ),
        ({"evaluation": "nosuchgrid"}, "evaluation: grid 'nosuchgrid' is neither a file nor"),
        ({"evaluation": {"gausian": [0.1]}}, "evaluation: unknown grid key 'gausian'"),
        ({"evaluation": {"gaussian": [-1]}}, r"evaluation: .*scale must be >= 0.0, got -1.0"),
    ],
)  # fmt: skip
def test_bad_configs_name_key_value_and_expectation(change, message) -> None:
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_dict({**BASE, **change})


def test_missing_required_key() -> None:
    data = dict(BASE)
    del data["seeds"]
    with pytest.raises(ValueError, match="config needs 'seeds'"):
        ExperimentConfig.from_dict(data)


def test_resolve_class_allow_list() -> None:
    assert resolve_class("stable_baselines3.PPO").__name__ == "PPO"
    with pytest.raises(ValueError, match="must be a dotted path"):
        resolve_class("PPO")
    with pytest.raises(ValueError, match="outside the allowed modules"):
        resolve_class("torch.load")  # torch is allowed only under torch.nn


def test_overrides_set_nested_values_and_parse_yaml_scalars() -> None:
    out = apply_overrides(BASE, ["env.n_envs=4", "total_timesteps=2e3", "algo_kwargs.gamma=0.9"])
    assert out["env"]["n_envs"] == 4 and out["total_timesteps"] == 2000
    assert out["algo_kwargs"] == {"gamma": 0.9}
    assert BASE["env"] == {"id": "CartPole-v1"}  # the input is not modified
    with pytest.raises(ValueError, match="must be key=value"):
        apply_overrides(BASE, ["total_timesteps"])
    with pytest.raises(ValueError, match="'name' is not a mapping"):
        apply_overrides(BASE, ["name.first=1"])


def test_malformed_yaml_reports_line_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nalgo: PPO\nenv: {id: CartPole-v1\nseeds: [0]\n")
    with pytest.raises(ValueError, match=r"bad.yaml:\d+:\d+: malformed YAML"):
        load_config(path)


def test_load_config_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: x\nalgo: PPO\nenv: CartPole-v1\ntotal_timesteps: 10\nseeds: [0]\nfoo: 1\n"
    )
    with pytest.raises(ValueError, match=r"c.yaml: unknown key 'foo'"):
        load_config(path)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.yaml")


@pytest.mark.parametrize("path", sorted(Path(__file__).resolve().parents[2].glob("configs/*.yaml")))
def test_shipped_configs_validate(path: Path) -> None:
    config = load_config(path)
    assert config.total_timesteps > 0 and config.seeds


def test_valid_devices_evaluations_and_component_kwargs_pass() -> None:
    config = ExperimentConfig.from_dict(
        {
            **BASE,
            "device": "cuda:1",  # checked for form, not for presence
            "evaluation": {"gaussian": [0.1], "fgsm": [0.05]},
            "callbacks": [{"rlnoise.callbacks.GradientNoiseCallback": {"eta": 0.01}}],
            "env": {
                "id": "CartPole-v1",
                "wrappers": [{"rlnoise.wrappers.ObservationNoise": {"spec": "gaussian:0.1"}}],
            },
        }
    )
    assert config.device == "cuda:1" and config.evaluation == {"gaussian": [0.1], "fgsm": [0.05]}
    named = ExperimentConfig.from_dict({**BASE, "evaluation": "configs/eval/quick.yaml"})
    assert named.evaluation == "configs/eval/quick.yaml"  # kept as named (resolved when used)
    assert ExperimentConfig.from_dict(named.to_dict()) == named


@pytest.mark.parametrize(
    ("algo", "env_id", "algo_kwargs"),
    [
        ("PPO", "CartPole-v1", {"target_kl": None, "learning_rate": 3e-4, "n_steps": 64}),
        ("DQN", "CartPole-v1", {"train_freq": [4, "step"], "replay_buffer_kwargs": {}}),
        ("SAC", "Pendulum-v1", {"ent_coef": "auto_0.1", "learning_rate": 1}),
    ],
)
def test_algo_kwargs_of_the_right_types_pass(algo: str, env_id: str, algo_kwargs: dict) -> None:
    data = {**BASE, "algo": algo, "env": {"id": env_id}, "algo_kwargs": algo_kwargs}
    assert ExperimentConfig.from_dict(data).to_dict()["algo_kwargs"] == algo_kwargs
