"""rs, rs_mad, learned: conditions of the grid, real attacks, cached per model."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest
from stable_baselines3 import PPO, SAC, TD3

from rlnoise.attacks.robust_sarsa import RobustSarsaConfig
from rlnoise.evaluation import evaluate_robustness
from rlnoise.evaluation.grid import build_grid
from rlnoise.evaluation.perturbations import (
    ObservationAttackPerturbation,
    learned_attack,
    perturbation_from_dict,
)
from rlnoise.evaluation.perturbations.learned_attack import LearnedAttackPerturbation

# Tiny learning budgets, enough on the trained CartPole agent (measured over 10 episodes:
# RS at 4000 rollout steps / 300 updates took it from 500 to 68 at eps 0.1, where uniform
# noise leaves 500; the adversary at 3072 steps to 42 at eps 0.3, where uniform leaves 258).
RS_TRAINING = {"rollout_steps": 2000, "updates": 200, "explore": 0.5}
ADVERSARY_TRAINING = {
    "timesteps": 3072,
    "n_envs": 4,
    "ppo_kwargs": {"n_steps": 64, "batch_size": 128, "learning_rate": 1e-3},
}


@pytest.fixture(autouse=True)
def fresh_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without what earlier tests learned in this process."""
    monkeypatch.setattr(learned_attack, "_MEMORY", {})


def test_dict_round_trip_budget_and_grid_options() -> None:
    attack = LearnedAttackPerturbation("rs_mad", 0.1, training=RS_TRAINING, mad_ratio=0.25)
    data = attack.to_dict()
    assert data["type"] == "rs_mad"
    # every learner setting is in the dict form (it keys the cells), given or default
    assert data["training"] == {**RobustSarsaConfig().to_dict(), **RS_TRAINING}
    assert perturbation_from_dict(data) == attack
    assert isinstance(attack, ObservationAttackPerturbation)
    assert attack.budget == ObservationAttackPerturbation("pgd", 0.1).budget
    conditions = build_grid(
        {
            "clean": False,
            "rs": [0.05, 0.1],
            "learned": {"levels": [0.1], "training": {"timesteps": 64}},
        }
    )
    assert [c.name for c in conditions] == ["rs:0.05", "rs:0.1", "learned:0.1"]
    learned = conditions[2].perturbations[0]
    assert learned.learner_config().timesteps == 64


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "rs", "eps": -1.0}, "rs.eps"),
        ({"method": "rs", "eps": 0.1, "training": {"nope": 1}}, "rs.training"),
        ({"method": "rs", "eps": 0.1, "training": {"explore": 2.0}}, "robust_sarsa.explore"),
        ({"method": "rs", "eps": 0.1, "mad_ratio": 0.5}, "rs.mad_ratio"),
        ({"method": "rs_mad", "eps": 0.1, "mad_ratio": 1.5}, "rs_mad.mad_ratio"),
        ({"method": "learned", "eps": 0.1, "space": "normalized"}, "learned.space"),
        ({"method": "learned", "eps": 0.1, "training": {"timesteps": 0}}, "adversary.timesteps"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LearnedAttackPerturbation(**kwargs)


def test_robust_sarsa_attacks_hurt_more_than_uniform_noise(trained_cartpole: PPO) -> None:
    eps = 0.1
    grid = {
        "uniform": [eps],
        "rs": {"levels": [eps], "training": RS_TRAINING},
        "rs_mad": {"levels": [eps], "training": RS_TRAINING},
    }
    report = evaluate_robustness(
        trained_cartpole, "CartPole-v1", grid, n_episodes=4, seed=0, device="cpu",
        progress=False, reference_score=0.0,
    )  # fmt: skip
    clean, uniform, rs, rs_mad = report.returns[0].mean(axis=1)
    assert clean == uniform == 500.0  # noise of this radius does nothing to the agent
    assert rs < uniform and rs_mad < uniform


def test_learned_adversary_hurts_more_than_uniform_noise(trained_cartpole: PPO) -> None:
    eps = 0.3
    grid = {
        "clean": False,
        "uniform": [eps],
        "learned": {"levels": [eps], "training": ADVERSARY_TRAINING},
    }
    report = evaluate_robustness(
        trained_cartpole, "CartPole-v1", grid, n_episodes=4, seed=0, device="cpu",
        progress=False, reference_score=0.0,
    )  # fmt: skip
    uniform, learned = report.returns[0].mean(axis=1)
    assert learned < uniform


def _files(directory: Path) -> dict[str, tuple[int, bytes]]:
    return {
        p.name: (os.stat(p).st_mtime_ns, p.read_bytes())
        for p in sorted(directory.iterdir())
        if not p.name.endswith(".lock")
    }


def test_a_rerun_loads_what_was_learned_instead_of_training(
    trained_cartpole: PPO, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    training = {"timesteps": 256, "n_envs": 2, "ppo_kwargs": {"n_steps": 64, "batch_size": 64}}
    grid = {
        "clean": False,
        "rs": {"levels": [0.05, 0.1], "training": {"rollout_steps": 200, "updates": 5}},
        "learned": {"levels": [0.1], "training": training},
    }

    def evaluate(resume: str) -> np.ndarray:
        return evaluate_robustness(
            trained_cartpole, "CartPole-v1", grid, n_episodes=1, seed=0, device="cpu",
            progress=False, reference_score=0.0, resume_dir=tmp_path / resume, max_steps=20,
        ).returns  # fmt: skip

    first = evaluate("a")
    store = tmp_path / "a" / "learned_attacks"
    files = _files(store)
    # one critic shared by both radii; one adversary with its curve and its record
    assert sorted(Path(n).suffix for n in files) == [".csv", ".json", ".pt", ".zip"]
    assert files[next(n for n in files if n.endswith(".csv"))][1].startswith(b"timesteps,")
    # A rerun (new process: nothing in memory; new cells: every episode played again)
    # must load both, so training would be an error.
    monkeypatch.setattr(learned_attack, "_MEMORY", {})
    for name in ("train_robust_sarsa", "train_adversary"):
        monkeypatch.setattr(learned_attack, name, _refuse)
    (tmp_path / "b").mkdir()
    os.rename(store, tmp_path / "b" / "learned_attacks")
    second = evaluate("b")
    assert _files(tmp_path / "b" / "learned_attacks") == files
    np.testing.assert_array_equal(first, second)


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("trained again although the cache holds it")


@pytest.mark.parametrize("cls", [TD3, SAC, PPO])
def test_continuous_agent_is_attacked_by_rs_and_learned(cls: type) -> None:
    kwargs = {"n_steps": 64, "batch_size": 64} if cls is PPO else {"buffer_size": 1000}
    model = cls("MlpPolicy", "Pendulum-v1", seed=0, device="cpu", **kwargs)
    ppo = {"n_steps": 64, "batch_size": 64}
    grid = {
        "clean": False,
        "rs_mad": {"levels": [0.1], "training": {"rollout_steps": 100, "updates": 3}},
        "learned": {"levels": [0.1], "training": {"timesteps": 64, "n_envs": 1, "ppo_kwargs": ppo}},
    }
    report = evaluate_robustness(
        model, "Pendulum-v1", grid, n_episodes=1, seed=0, device="cpu", progress=False,
        reference_score=0.0, max_steps=10,
    )  # fmt: skip
    assert np.isfinite(report.returns).all()


@pytest.mark.parametrize("name", ["strongest_learned", "strongest_learned_fast"])
def test_packaged_grids_build(name: str) -> None:
    conditions = build_grid(name)
    assert {c.name.split(":")[0] for c in conditions} == {"clean", "rs", "rs_mad", "learned"}


def test_fast_grid_runs_from_the_command_line(trained_cartpole_path: Path, tmp_path: Path) -> None:
    from rlnoise.cli import main

    out = tmp_path / "out"
    code = main(
        ["evaluate", "--model", str(trained_cartpole_path), "--env", "CartPole-v1", "--grid",
         "strongest_learned_fast", "--episodes", "1", "--max-steps", "20", "--device", "cpu",
         "--out", str(out), "--no-progress", "--no-plots", "--bootstrap", "100"]
    )  # fmt: skip
    assert code == 0
    assert len(list((out / "cells" / "learned_attacks").glob("*.zip"))) == 1


def test_training_leaves_the_callers_global_rngs_alone(trained_cartpole: PPO) -> None:
    # SB3 seeds the global RNGs when it builds the adversary's PPO; the caller's are restored.
    import random

    import torch

    ppo = {"n_steps": 64, "batch_size": 64}
    grid = {
        "clean": False,
        "rs": {"levels": [0.1], "training": {"rollout_steps": 50, "updates": 2}},
        "learned": {"levels": [0.1], "training": {"timesteps": 64, "n_envs": 1, "ppo_kwargs": ppo}},
    }

    def draws() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), float(torch.rand(1))  # noqa: NPY002

    random.seed(1)
    np.random.seed(1)  # noqa: NPY002
    torch.manual_seed(1)
    expected = draws()
    random.seed(1)
    np.random.seed(1)  # noqa: NPY002
    torch.manual_seed(1)
    evaluate_robustness(
        trained_cartpole, "CartPole-v1", grid, n_episodes=1, seed=0, device="cpu",
        progress=False, reference_score=0.0, max_steps=5,
    )  # fmt: skip
    assert draws() == expected


def test_dqn_agent_is_attacked_by_rs_mad_and_learned() -> None:
    from stable_baselines3 import DQN

    model = DQN("MlpPolicy", "CartPole-v1", buffer_size=1000, seed=0, device="cpu")
    ppo = {"n_steps": 64, "batch_size": 64}
    grid = {
        "clean": False,
        "rs_mad": {"levels": [0.1], "training": {"rollout_steps": 100, "updates": 3}},
        "learned": {"levels": [0.1], "training": {"timesteps": 64, "n_envs": 1, "ppo_kwargs": ppo}},
    }
    report = evaluate_robustness(
        model, "CartPole-v1", grid, n_episodes=1, seed=0, device="cpu", progress=False,
        reference_score=0.0, max_steps=10,
    )  # fmt: skip
    assert (report.returns > 0).all()


def test_learned_attacks_take_a_per_dimension_radius_in_std_units() -> None:
    """rs / learned resolve eps in its unit: std units give the per-dimension radius eps * std."""
    from rlnoise.evaluation.perturbations.attack import attack_radius
    from rlnoise.evaluation.perturbations.base import Lanes

    model = TD3("MlpPolicy", "Pendulum-v1", seed=0, device="cpu", buffer_size=1000)
    ppo = {"n_steps": 64, "batch_size": 64}
    std = [0.5, 1.0, 2.0]
    unit = {"unit": "std", "std": std}
    grid = {
        "clean": False,
        "rs": {"levels": [0.3], "training": {"rollout_steps": 100, "updates": 3}, **unit},
        "learned": {
            "levels": [0.3],
            "training": {"timesteps": 64, "n_envs": 1, "ppo_kwargs": ppo},
            **unit,
        },
    }
    report = evaluate_robustness(
        model, "Pendulum-v1", grid, n_episodes=1, seed=0, device="cpu", progress=False,
        reference_score=0.0, max_steps=10,
    )  # fmt: skip
    assert np.isfinite(report.returns).all()
    assert {p.budget for c in report.conditions for p in c.perturbations} == {"eps[std]=0.3"}
    attack = report.conditions[0].perturbations[0]
    lanes = cast(Lanes, SimpleNamespace(where="here", adapter=SimpleNamespace(device="cpu")))
    radius = attack_radius(attack, attack.eps, None, (3,), lanes)  # type: ignore[arg-type]
    np.testing.assert_allclose(radius.numpy(), [0.15, 0.3, 0.6], rtol=1e-6)
