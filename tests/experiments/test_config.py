"""Experiment configs: validation messages, allow-list, overrides, YAML errors."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest
import torch
from stable_baselines3 import DQN

from rlnoise.cli import main
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
    from rlnoise.experiments.sweep import Sweep, load_experiment

    loaded = load_experiment(path)  # a sweep validates every experiment it expands into
    for config in loaded.configs if isinstance(loaded, Sweep) else [loaded]:
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


# -- item 9: a dotted path resolves only to what its slot takes ----------------------------------
def test_callback_that_unpickles_a_file_is_refused_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_Touch(marker)))
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: x\nalgo: PPO\nenv: CartPole-v1\ntotal_timesteps: 64\nseeds: [0]\ndevice: cpu\n"
        f"output_dir: {tmp_path / 'runs'}\ncallbacks:\n"
        f"  - stable_baselines3.common.save_util.load_from_pkl: {{path: {tmp_path / 'evil.pkl'}}}\n"
    )
    with pytest.raises(ValueError, match=r"callbacks\[0\] '.*load_from_pkl' is a function, not a"):
        load_config(path)
    assert main(["train", str(path), "--no-progress"]) == 2
    assert not marker.exists() and not (tmp_path / "runs").exists()


class _Touch:
    """Unpickling it creates a file: what an unpickled config-named file could do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (Path.touch, (self.path,))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"env": {"id": "CartPole-v1", "wrappers": ["rlnoise.wrappers.VecObservationNoise"]}},
            r"env.wrappers\[0\] 'rlnoise.wrappers.VecObservationNoise' is not a Gymnasium wrapper "
            r"class \(a subclass of gymnasium.core.Wrapper\)",
        ),
        (
            {"env": {"id": "CartPole-v1", "wrappers": ["gymnasium.make"]}},
            r"env.wrappers\[0\] 'gymnasium.make' is a function, not a Gymnasium wrapper class",
        ),
        (
            {"callbacks": ["gymnasium.wrappers.ClipReward"]},
            r"callbacks\[0\] 'gymnasium.wrappers.ClipReward' is not a callback class",
        ),
        ({"algo": "stable_baselines3.ppo.MlpPolicy"}, "algo '.*MlpPolicy' is not an algorithm"),
        ({"policy": "stable_baselines3.PPO"}, r"policy 'stable_baselines3.PPO' is not a policy"),
        (
            {"policy": "rlnoise.policies.NoisySACPolicy"},
            "policy 'rlnoise.policies.NoisySACPolicy' cannot serve PPO: PPO's policies derive from "
            "stable_baselines3.common.policies.ActorCriticPolicy",
        ),
        (
            {"policy_kwargs": {"activation_fn": "torch.nn.functional.relu"}},
            r"policy_kwargs.activation_fn '.*relu' is a function, not an activation module class",
        ),
        (
            {"policy_kwargs": {"features_extractor_class": "torch.nn.ReLU"}},
            r"'torch.nn.ReLU' is not a features extractor class \(a subclass of .*BaseFeaturesExtr",
        ),
        (
            {"policy_kwargs": {"optimizer_class": "torch.optim.lr_scheduler.StepLR"}},
            r"'torch.optim.lr_scheduler.StepLR' is not an optimizer class \(a subclass of .*\)",
        ),
    ],
)  # fmt: skip
def test_a_class_must_be_of_the_kind_its_slot_takes(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_dict({**BASE, **change})


def test_class_valued_policy_kwargs_of_the_right_kind_build() -> None:
    config = ExperimentConfig.from_dict(
        {
            **BASE,
            "policy_kwargs": {
                "optimizer_class": "torch.optim.SGD",
                "activation_fn": "torch.nn.ReLU",
                "features_extractor_class": "stable_baselines3.common.torch_layers.NatureCNN",
            },
        }
    )
    kwargs = build_policy_kwargs(config.policy_kwargs)
    assert kwargs["optimizer_class"] is torch.optim.SGD and kwargs["activation_fn"] is torch.nn.ReLU
    with pytest.raises(ValueError, match="is a function, not a"):
        build_policy_kwargs({"activation_fn": "torch.nn.functional.relu"})


# -- item 11: experiment names are plain names ---------------------------------------------------
@pytest.mark.parametrize(
    "name", ["../../escaped2", "a/b", "/abs", "..", ".", ".hidden", "a\\b", ""]
)
def test_names_that_are_not_plain_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"name must be a plain name .*, got"):
        ExperimentConfig.from_dict({**BASE, "name": name})


def test_a_traversing_name_writes_nothing_outside_the_output_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    path = work / "c.yaml"
    path.write_text("name: ../../escaped2\nalgo: PPO\nenv: CartPole-v1\ntotal_timesteps: 64\n"
                    "seeds: [0]\ndevice: cpu\n")  # fmt: skip
    assert main(["train", str(path), "--no-progress"]) == 2
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "c.yaml"]
    config = ExperimentConfig.from_dict({**BASE, "name": "ppo-cartpole_v1.2+noise=0.1"})
    root = (work / "runs").resolve()
    assert (work / config.output_dir).resolve().parent == root


# -- item 12: sizes -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"env": {"id": "CartPole-v1", "n_envs": 100000000000}}, r"env.n_envs must be <= 1024 "),
        ({"total_timesteps": 1e30}, r"total_timesteps must be <= 10000000000 \(three years"),
        ({"total_timesteps": 1.5e0}, r"total_timesteps must be an integer, got 1.5 \(float\)"),
        ({"total_timesteps": float("inf")}, r"total_timesteps must be an integer, got inf"),
        ({"seeds": list(range(1001))}, r"seeds must hold at most 1000 seeds, got 1001"),
        ({"seeds": [2**32]}, r"seeds must be a non-empty list of integers in \[0, 4294967295\]"),
        ({"algo": "DQN", "algo_kwargs": {"buffer_size": 1e12}},
         r"algo_kwargs.buffer_size must be <= 100000000 transitions, got 1e\+12"),
        ({"env": {"id": "CartPole-v1", "n_envs": 1024}, "algo_kwargs": {"n_steps": 200000}},
         r"algo_kwargs.n_steps x env.n_envs must be <= 100000000 transitions .* 200000 x 1024"),
    ],
)  # fmt: skip
def test_sizes_that_cannot_work_are_refused(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_dict({**BASE, **change})


def test_integral_scientific_notation_is_an_integer(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: x\nalgo: DQN\nenv: {id: CartPole-v1, n_envs: 2e0}\ntotal_timesteps: 1e5\n"
        "seeds: [0]\nalgo_kwargs: {buffer_size: 1e4, learning_rate: 3e-4, train_freq: [4, step]}\n"
    )
    config = load_config(path, ["algo_kwargs.learning_starts=1e3"])
    assert config.total_timesteps == 100_000 and type(config.total_timesteps) is int
    assert config.env.n_envs == 2 and type(config.env.n_envs) is int
    kwargs = config.algo_kwargs
    assert kwargs["buffer_size"] == 10_000 and type(kwargs["buffer_size"]) is int
    assert kwargs["learning_starts"] == 1000 and type(kwargs["learning_starts"]) is int
    assert kwargs["learning_rate"] == 3e-4 and kwargs["train_freq"] == (4, "step")
    assert config.to_dict()["algo_kwargs"]["train_freq"] == [4, "step"]  # YAML-safe
    assert ExperimentConfig.from_dict(config.to_dict()) == config
    # SB3 takes them as converted (a list train_freq fails inside SB3).
    model = DQN("MlpPolicy", "CartPole-v1", device="cpu", **kwargs)
    assert model.train_freq.frequency == 4 and model.buffer_size == 10_000


@pytest.mark.parametrize("seeds", [0, 3, 2.0])
def test_a_bare_number_of_seeds_is_ambiguous_and_refused(seeds: object) -> None:
    with pytest.raises(ValueError, match=r"seeds must be a list, e.g. \[0\] for one run or"):
        ExperimentConfig.from_dict({**BASE, "seeds": seeds})


# -- item 13: every rlnoise keyword and noise spec is checked on load, with its key path ----------
NOISY_PPO = {**BASE, "policy": "rlnoise.policies.NoisyActorCriticPolicy"}
NOISY_SAC = {
    **BASE,
    "algo": "SAC",
    "env": "Pendulum-v1",
    "policy": "rlnoise.policies.NoisySACPolicy",
}


def _wrapper(path: str, kwargs: dict) -> dict:
    return {**BASE, "env": {"id": "CartPole-v1", "wrappers": [{path: kwargs}]}}


def _callback(path: str, kwargs: dict) -> dict:
    return {**BASE, "callbacks": ["rlnoise.callbacks.NoiseScheduleCallback", {path: kwargs}]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**NOISY_SAC, "policy_kwargs": {"param_noise": {"kind": "gaussian", "scale": "abc"}}},
         r"^policy_kwargs.param_noise.scale must be a number, got 'abc'$"),
        ({**NOISY_PPO, "policy_kwargs": {"weight_noise": "gausian:0.1"}},
         r"^policy_kwargs.weight_noise.kind must be one of \['colored', .*got 'gausian'$"),
        ({**NOISY_PPO, "policy_kwargs": {"weight_noise": "salt_pepper:0.1"}},
         r"^policy_kwargs.weight_noise: kind 'salt_pepper' makes no sense for weights"),
        ({**NOISY_PPO, "policy_kwargs": {"activation_noise": "ou:0.1"}},
         r"^policy_kwargs.activation_noise: kind 'ou' is a process over time steps"),
        ({**NOISY_PPO, "policy_kwargs": {"noisy_net": {"sigma0": -1}}},
         r"^policy_kwargs.noisy_net.sigma0 must be >= 0.0, got -1$"),
        ({**NOISY_PPO, "policy_kwargs": {"noisy_net": {"sigma": 0.1}}},
         r"^policy_kwargs.noisy_net: unknown key 'sigma' in noisy_net; valid keys are"),
        ({**NOISY_PPO, "policy_kwargs": {"layer_norm": "yes"}},
         r"^policy_kwargs.layer_norm must be true, false, 'actor' or null, got 'yes'$"),
        ({**NOISY_PPO, "policy_kwargs": {"noise_seed": "7"}},
         r"^policy_kwargs.noise_seed must be an integer, got '7' \(str\)$"),
        ({**NOISY_PPO, "policy_kwargs": {"weight_noise": "gaussian:0.1", "net_arch": "big"}},
         r"^policy_kwargs.net_arch must be list\[int\] \| dict\[str, list\[int\]\] \| None for "
         r"NoisyActorCriticPolicy, got 'big'"),
        (_wrapper("rlnoise.wrappers.ObservationNoise", {"spec": "gausian:0.1"}),
         r"^env.wrappers\[0\].spec.kind must be one of \[.*\], got 'gausian'$"),
        (_wrapper("rlnoise.wrappers.ObservationNoise", {"spec": {"pos": "gaussian:x"}}),
         r"^env.wrappers\[0\].spec.pos.scale must be a number, got 'x'$"),
        (_wrapper("rlnoise.wrappers.ObservationNoise", {"spec": 0.1}),
         r"^env.wrappers\[0\].spec must be a noise spec \(e.g. 'gaussian:0.1'"),
        (_wrapper("rlnoise.wrappers.ObservationNoise", {}),
         r"^env.wrappers\[0\] \(rlnoise.wrappers.ObservationNoise\) kwargs needs 'spec'"),
        (_wrapper("rlnoise.wrappers.ActionNoise", {"spec": "gaussian:0.1,mode=additve"}),
         r"^env.wrappers\[0\].spec.mode must be one of"),
        (_wrapper("rlnoise.wrappers.RandomActionReplacement", {"probability": 2}),
         r"^env.wrappers\[0\].probability must be <= 1.0, got 2$"),
        (_wrapper("rlnoise.wrappers.RandomActionReplacement", {"schedule": "sometimes"}),
         r"^env.wrappers\[0\].schedule.type must be one of \["),
        (_wrapper("rlnoise.envs.CartPolePixels", {"size": 10}),
         r"^env.wrappers\[0\].size must be >= 36, got 10$"),
        (_callback("rlnoise.callbacks.GradientNoiseCallback", {"eta": "big"}),
         r"^callbacks\[1\].eta must be a number, got 'big' \(str\)$"),
        (_callback("rlnoise.callbacks.GradientNoiseCallback", {"position": "middle"}),
         r"^callbacks\[1\].position must be one of \['after_clip', 'before_clip'\], got 'middle'$"),
        (_callback("rlnoise.callbacks.GradientNoiseCallback", {"spec": "gaussian:0.1", "eta": 1}),
         r"^callbacks\[1\]: eta and gamma configure the default annealed spec"),
        (_callback("rlnoise.callbacks.GradientNoiseCallback",
                   {"spec": "gaussian:0.1,relative_to=std"}),
         r"^callbacks\[1\].spec: relative_to must be null for gradient noise, got 'std'$"),
        (_callback("rlnoise.callbacks.NoiseScheduleCallback", {"every": 0}),
         r"^callbacks\[1\].every must be >= 1, got 0$"),
        (_callback("rlnoise.callbacks.NoiseScheduleCallback", {"log": "on"}),
         r"^callbacks\[1\].log must be true or false, got 'on' \(str\)$"),
    ],
)  # fmt: skip
def test_rlnoise_keywords_and_noise_specs_are_checked_on_load_with_their_path(
    data: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ExperimentConfig.from_dict(data)


def test_a_bad_noise_spec_stops_train_before_any_output(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: x\nalgo: SAC\nenv: Pendulum-v1\ntotal_timesteps: 64\nseeds: [0]\n"
        f"output_dir: {tmp_path / 'runs'}\npolicy: rlnoise.policies.NoisySACPolicy\n"
        "policy_kwargs:\n  param_noise: {scale: abc, kind: gaussian}\n"
    )
    with pytest.raises(ValueError, match=r"c.yaml: policy_kwargs.param_noise.scale must be a"):
        load_config(path)
    assert main(["train", str(path), "--no-progress"]) == 2
    assert not (tmp_path / "runs").exists()


def test_several_problems_report_the_first_and_count_the_rest() -> None:
    data = {**BASE, "algos": "PPO", "total_timesteps": "x", "device": 0}
    with pytest.raises(
        ValueError, match=r"^unknown key 'algos' in config; .* \(and 2 more problems\)$"
    ):
        ExperimentConfig.from_dict(data)


def test_configs_survive_replace_and_pickle() -> None:
    config = ExperimentConfig.from_dict(
        {**_callback("rlnoise.callbacks.GradientNoiseCallback", {"eta": 0.1}), "seeds": [0, 1]}
    )
    assert dataclasses.replace(config, seeds=(1,)).seeds == (1,)  # as train.py writes each run
    assert pickle.loads(pickle.dumps(config)) == config  # as train_many sends it to workers
    with pytest.raises(ValueError, match="must not repeat"):  # pydantic's ValidationError
        dataclasses.replace(config, seeds=(1, 1))


def test_vec_normalize_options_are_checked_against_vec_normalize() -> None:
    env = {"id": "CartPole-v1", "normalize": {"gamma": 0.9, "clip_obs": 5}}
    assert ExperimentConfig.from_dict({**BASE, "env": env}).env.normalize == env["normalize"]
    with pytest.raises(ValueError, match=r"^env.normalize.gamma must be float for VecNormalize"):
        ExperimentConfig.from_dict({**BASE, "env": {**env, "normalize": {"gamma": "x"}}})
    with pytest.raises(ValueError, match=r"^unknown key 'foo' in env.normalize; valid keys are"):
        ExperimentConfig.from_dict({**BASE, "env": {**env, "normalize": {"foo": 1}}})


def test_the_env_section_a_run_writes_is_the_one_evaluation_reads() -> None:
    from rlnoise.runs.env import ENV_KEYS, evaluation_env_factory
    from rlnoise.wrappers import NOISE_WRAPPERS

    wrappers = [
        {"rlnoise.envs.CartPolePixels": {}},
        {"rlnoise.ObservationNoise": {"spec": "gaussian:0.1"}},
    ]
    env = ExperimentConfig.from_dict({**BASE, "env": {"id": "CartPole-v1", "wrappers": wrappers}})
    section = env.env.to_dict()
    assert tuple(section) == ENV_KEYS
    factory = evaluation_env_factory(section, leave_out=NOISE_WRAPPERS)
    assert [w.to_dict() for w in factory.wrappers] == [{"rlnoise.envs.CartPolePixels": {}}]
