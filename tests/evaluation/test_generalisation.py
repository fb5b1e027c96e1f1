"""``levels`` / ``contexts`` conditions and the report's generalisation gap (issue 16)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3 import PPO

from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.cli import main
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.envs import EnvMaker
from rlnoise.evaluation.generalisation import generalisation_pairs
from rlnoise.evaluation.grid import build_grid
from rlnoise.evaluation.perturbations import LevelsPerturbation
from rlnoise.evaluation.report import RobustnessReport
from rlnoise.wrappers import training_levels, unseen_levels

from .helpers import predict_episodes

POLES = {
    "train": [{"attributes": {"length": v}} for v in (0.3, 0.5, 0.7)],
    "test": [{"attributes": {"length": v}} for v in (0.4, 1.5, 0.1)],
}


# -- levels ---------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "m", "split_seed"), [(10, 100, 0), (100, 1000, 3), (1, 1, 7)])
def test_train_and_unseen_level_conditions_never_overlap(n: int, m: int, split_seed: int) -> None:
    grid = build_grid(
        {"clean": False, "levels": {"train": n, "unseen": m, "split_seed": split_seed}}
    )
    train, unseen = (c.perturbations[0] for c in grid)
    assert train.levels == training_levels(n, split_seed) and len(set(train.levels)) == n
    assert unseen.levels == unseen_levels(m, split_seed) and len(set(unseen.levels)) == m
    assert set(train.levels).isdisjoint(unseen.levels)


def _played(perturbation: LevelsPerturbation, seeds: range) -> list[int]:
    env = EnvMaker("CartPole-v1").make(perturbation)
    played = [env.reset(seed=s)[1]["level"] for s in seeds]
    env.close()
    return played


def test_the_same_episode_seeds_play_the_same_levels_covering_the_set_in_passes() -> None:
    train = LevelsPerturbation("train", 4)
    seeds = range(10_000, 10_012)  # the evaluation's episode seeds: seed + k
    played = _played(train, seeds)
    assert _played(train, seeds) == played  # same seeds, same level sequence
    assert played == [train.levels[s % 4] for s in seeds]
    for start in (0, 4, 8):  # consecutive episodes cover the set once per pass
        assert sorted(played[start : start + 4]) == sorted(train.levels)
    assert set(_played(LevelsPerturbation("unseen", 12), seeds)).isdisjoint(played)


def test_level_and_context_conditions_round_trip_and_name_themselves() -> None:
    grid = build_grid({"levels": {"train": 10, "unseen": 100}, "contexts": POLES})
    assert [c.name for c in grid] == [
        "clean", "levels:train=10", "levels:unseen=100",
        "contexts:train", "contexts:interpolation", "contexts:extrapolation",
    ]  # fmt: skip
    for condition in grid:
        assert Condition.from_dict(json.loads(json.dumps(condition.to_dict()))) == condition
    extrapolation = grid[-1].perturbations[0]
    assert [c.label for c in extrapolation.contexts] == ["length=1.5", "length=0.1"]


def test_a_context_condition_plays_context_seed_mod_n() -> None:
    (_, _, extrapolation) = (
        c.perturbations[0] for c in build_grid({"clean": False, "contexts": POLES})
    )
    env = EnvMaker("CartPole-v1").make(extrapolation)
    lengths = []
    for seed in range(6):
        env.reset(seed=seed)
        lengths.append(env.unwrapped.length)
        assert env.unwrapped.polemass_length == pytest.approx(0.1 * env.unwrapped.length)
    assert lengths == [1.5, 0.1] * 3


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"levels": {"train": 0}}, "levels.count must be"),
        ({"levels": {"test": 10}}, "levels"),
        ({"levels": [10]}, "levels must be like"),
        ({"contexts": {"train": POLES["train"]}}, "needs both 'train' and 'test'"),
        ({"contexts": {"train": POLES["train"], "test": POLES["train"][:1]}}, "also a training"),
        (
            {"conditions": [{"name": "x", "perturbations": [
                {"type": "levels", "split": "train", "count": 2},
                {"type": "dynamics", "attributes": {"length": 1.0}}]}]},
            "more than one 'dynamics'",
        ),
    ],
)  # fmt: skip
def test_bad_level_and_context_grids_are_one_line_errors(grid: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        build_grid(grid)
    assert "\n" not in str(error.value)


# -- the generalisation gap ---------------------------------------------------------
def _report(returns: np.ndarray, groups: list[str]) -> RobustnessReport:
    conditions = build_grid({"clean": False, "levels": {"train": 10, "unseen": 100}})
    runs = tuple({"name": f"run{i}", "group": g} for i, g in enumerate(groups))
    return RobustnessReport(returns, np.ones(returns.shape, np.int64), tuple(conditions), runs, {})


def test_the_gap_column_equals_a_hand_computation(tmp_path: Path) -> None:
    # Five runs of one group; per-run means (train, unseen) chosen so the gaps are
    # 0.1, 0.5, 0.2, 0.9, 0.3: IQM of five drops one from each end -> (0.2 + 0.3 + 0.5) / 3.
    train = np.array([[1.0, 0.8], [1.0, 1.0], [0.6, 0.6], [1.0, 0.8], [0.5, 0.5]])
    unseen = np.array([[0.8, 0.8], [0.5, 0.5], [0.2, 0.6], [0.0, 0.0], [0.2, 0.2]])
    single = np.array([[[1.0, 1.0], [0.0, 0.5]]])  # a second group of one run: gap 0.75
    returns = np.concatenate([np.stack([train, unseen], axis=1), single])
    report = _report(returns, ["noisy"] * 5 + ["clean"])
    rows = report.generalisation(n_resamples=500)
    assert [(r["group"], r["train_condition"], r["test_condition"]) for r in rows] == [
        ("noisy", "levels:train=10", "levels:unseen=100"),
        ("clean", "levels:train=10", "levels:unseen=100"),
    ]
    assert rows[0]["run_gaps"] == pytest.approx([0.1, 0.5, 0.2, 0.9, 0.3])
    assert rows[0]["generalisation_gap"] == pytest.approx((0.2 + 0.3 + 0.5) / 3)
    assert rows[0]["train_iqm"] == pytest.approx(st.iqm(train.mean(axis=1)[:, None]))
    low, high = rows[0]["generalisation_gap_ci"]
    assert 0.1 <= low <= rows[0]["generalisation_gap"] <= high <= 0.9  # resampled run gaps
    assert rows[1]["generalisation_gap"] == pytest.approx(0.75) and rows[1]["n_runs"] == 1
    assert rows[1]["generalisation_gap_ci"] == pytest.approx([0.5, 1.0])  # episode differences
    # The same numbers in report.json and generalisation.csv.
    paths = report.save(tmp_path, n_resamples=500)
    assert json.loads(paths["json"].read_text())["generalisation"] == rows
    with open(paths["generalisation_csv"], newline="") as handle:
        table = list(csv.DictReader(handle))
    assert float(table[0]["generalisation_gap"]) == pytest.approx(rows[0]["generalisation_gap"])
    assert float(table[0]["generalisation_gap_ci_low"]) == pytest.approx(low)


def test_no_level_or_context_sets_no_gap_rows() -> None:
    conditions = build_grid({"gaussian": [0.1]})
    assert generalisation_pairs(conditions) == []
    pairs = generalisation_pairs(
        build_grid({"levels": {"train": 2, "unseen": 3}, "contexts": POLES})
    )
    assert pairs == [("levels:0", 1, 2), ("contexts", 3, 4), ("contexts", 3, 5)]


# -- rlnoise train + rlnoise evaluate --runs ------------------------------------------
def test_runs_trained_on_contexts_are_evaluated_on_the_grids_sets(
    tmp_path: Path, trained_cartpole: PPO
) -> None:
    # A run trained behind ContextSet: its evaluation env leaves the ContextSet out (else it
    # would override every condition's pole length at reset) and the config's grid applies.
    from rlnoise.runs.config import write_run_config
    from rlnoise.runs.contract import done_record, write_done

    run = tmp_path / "poles" / "seed_0"
    run.mkdir(parents=True)
    trained_cartpole.save(run / "model.zip")
    env = {
        "id": "CartPole-v1",
        "wrappers": [{"rlnoise.wrappers.ContextSet": {"contexts": POLES["train"]}}],
    }
    write_run_config(
        run, {"algo": "PPO", "env": env, "evaluation": {"clean": False, "contexts": POLES}}
    )
    record = done_record(seed=0, algo="PPO", total_timesteps=1, wall_seconds=0.0,
                         versions={}, files=["model.zip", "config.yaml"])  # fmt: skip
    write_done(run, record)
    out = tmp_path / "out"
    argv = ["--runs", str(run.parent), "--episodes", "2", "--seed", "4", "--device", "cpu",
            "--max-steps", "60", "--out", str(out), "--no-progress", "--no-plots",
            "--bootstrap", "50"]  # fmt: skip
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    by_condition = dict(zip([c["split"] for c in
                             (c["perturbations"][0] for c in report["conditions"])],
                            report["returns"][0], strict=True))  # fmt: skip
    lengths = {"train": [0.5, 0.7], "interpolation": [0.4, 0.4], "extrapolation": [1.5, 0.1]}
    for split, poles in lengths.items():  # seeds 4, 5 play contexts 4 mod n, 5 mod n
        expected = []
        for seed, pole in zip((4, 5), poles, strict=True):

            def make(pole: float = pole) -> object:
                import gymnasium as gym

                made = gym.make("CartPole-v1", max_episode_steps=60)
                made.unwrapped.length, made.unwrapped.polemass_length = pole, 0.1 * pole
                return made

            expected += predict_episodes(trained_cartpole, make, [seed])[0]
        assert by_condition[split] == expected, split
    assert [r["test_condition"] for r in report["generalisation"]] == [
        "contexts:interpolation",
        "contexts:extrapolation",
    ]
    assert (out / "generalisation.csv").is_file()
