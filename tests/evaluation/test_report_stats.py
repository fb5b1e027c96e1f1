"""Worst-of-attacks and rliable's statistics in a robustness report.

Worst-of-attacks is checked against a hand computation; every rliable
statistic the report holds against the real ``rliable`` called on the same
scores after ``np.random.seed`` with the report's seed, exactly (as
``test_rliable_stats.py`` checks the library functions).
"""

from __future__ import annotations

import csv
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from rliable import metrics
from stable_baselines3 import PPO

from rlnoise.evaluation import Condition, RobustnessReport
from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.display import save_report
from rlnoise.evaluation.perturbations import (
    ObservationAttackPerturbation,
    ObservationNoisePerturbation,
    RandomActionPerturbation,
)
from rlnoise.evaluation.reference import Reference
from rlnoise.evaluation.report_stats import stats_seed
from rlnoise.evaluation.worst_attack import attack_budgets

EXACT = {"rtol": 1e-12, "atol": 0.0}
REPS = 300
RLIABLE_REPS = 100  # rliable's bootstrap loops in Python: exact agreement needs no more
CHECKED = ("clean", "pgd:0.1", "pgd:0.1+random_action:0.1")  # rliable's calls cost ~1 s each


@dataclass(frozen=True)
class _NewAttack(ObservationAttackPerturbation):
    """An attack added as a subclass: worst-of must take it by its budget, not its name."""


def _attack(method: str, eps: float, *extra, cls=ObservationAttackPerturbation, space="raw"):
    attack = cls(method, eps, space=space)
    new = "" if cls is ObservationAttackPerturbation else "-new"
    unit = "" if space == "raw" else "[n]"
    name = "+".join([f"{method}{new}{unit}:{eps:g}", *(p.label for p in extra)])
    return Condition(name, (attack, *extra), None if extra else method, eps)


CONDITIONS = (
    Condition.clean(),
    _attack("fgsm", 0.1),  # 1
    _attack("pgd", 0.1),  # 2
    _attack("pgd", 0.1, cls=_NewAttack),  # 3: a third method of budget eps=0.1
    _attack("pgd", 0.2),  # 4: alone at eps=0.2: no worst-of
    _attack("fgsm", 0.1, space="normalized"),  # 5: another unit: another budget, alone
    Condition(
        "obs:gaussian:0.1", (ObservationNoisePerturbation("gaussian:0.1"),), "obs:gaussian", 0.1
    ),
    _attack("fgsm", 0.1, RandomActionPerturbation(0.1)),  # 7: attack on another setting ...
    _attack("pgd", 0.1, RandomActionPerturbation(0.1)),  # 8: ... compared with its own kind
)
RUNS = ({"name": "a0", "group": "a"}, {"name": "a1", "group": "a"}, {"name": "b0", "group": "b"})


def _hand_report() -> RobustnessReport:
    rng = np.random.default_rng(5)
    returns = np.round(rng.normal(100.0, 10.0, (3, len(CONDITIONS), 6)), 1)
    # Per-run means at eps=0.1 (columns 1, 2, 3): a0 worst under fgsm, a1 under the new
    # attack, b0 under pgd.
    returns[0, 1] -= 50.0
    returns[1, 3] -= 60.0
    returns[2, 2] -= 70.0
    return RobustnessReport(
        returns, np.full(returns.shape, 7), CONDITIONS, RUNS, {"env": {"id": "X-v0"}},
        Reference.given(10.0),
    )  # fmt: skip


def test_worst_of_attacks_groups_by_budget_and_equals_a_hand_computation() -> None:
    report = _hand_report()
    assert attack_budgets(CONDITIONS) == {
        "eps=0.1": [1, 2, 3],
        "eps=0.1+random_action:0.1": [7, 8],
    }  # eps=0.2 and eps[normalized]=0.1 have one attack each
    rows = {(r["group"], r["budget"]): r for r in report.worst_of_attacks(n_resamples=REPS)}
    assert set(rows) == {(g, b) for g in "ab" for b in ("eps=0.1", "eps=0.1+random_action:0.1")}
    returns = report.returns
    for group, runs in (("a", [0, 1]), ("b", [2])):
        for budget, columns in attack_budgets(CONDITIONS).items():
            row = rows[(group, budget)]
            means = {r: [returns[r, c].mean() for c in columns] for r in runs}
            picks = [columns[int(np.argmin(means[r]))] for r in runs]
            assert [run["worst_attack"] for run in row["runs"]] == [CONDITIONS[c].name
                                                                     for c in picks]  # fmt: skip
            assert [run["run"] for run in row["runs"]] == [RUNS[r]["name"] for r in runs]
            assert [run["mean_return"] for run in row["runs"]] == [min(means[r]) for r in runs]
            chosen = np.stack([returns[r, c] for r, c in zip(runs, picks, strict=True)])
            assert row["mean"] == pytest.approx(np.mean([min(means[r]) for r in runs]), abs=1e-12)
            assert row["iqm"] == st.iqm(chosen) and row["n_runs"] == len(runs)
            clean = st.iqm(returns[runs, 0])
            assert row["iqm_diff_to_clean"] == row["iqm"] - clean
            assert row["iqm_normalised"] == pytest.approx((row["iqm"] - 10) / (clean - 10), 1e-12)
            assert row["attacks"] == [CONDITIONS[c].name for c in columns]
            assert row["condition"] == f"worst-of-attacks:{budget}" and row["level"] == 0.1
    eps = rows[("a", "eps=0.1")]
    assert [run["worst_attack"] for run in eps["runs"]] == ["fgsm:0.1", "pgd-new:0.1"]
    assert [run["worst_attack"] for run in rows[("b", "eps=0.1")]["runs"]] == ["pgd:0.1"]
    # Its CIs pair with clean's (the summary's seed): a paired difference of the IQM draws.
    summary = {(r["group"], r["condition"]): r for r in report.summary(n_resamples=REPS)}
    assert eps["iqm_ci"][0] <= eps["iqm"] <= eps["iqm_ci"][1]
    assert summary[("a", "clean")]["iqm_ci"] != eps["iqm_ci"]


def test_one_attack_per_budget_makes_no_worst_of_row(tmp_path: Path) -> None:
    conditions = (CONDITIONS[0], CONDITIONS[1], CONDITIONS[4], CONDITIONS[6])
    rng = np.random.default_rng(1)
    returns = rng.normal(100, 10, (2, 4, 5))
    report = RobustnessReport(returns, np.ones(returns.shape), conditions, RUNS[:2], {},
                              Reference.given(0.0))  # fmt: skip
    assert report.worst_of_attacks(n_resamples=50) == []
    paths = save_report(report, tmp_path, n_resamples=50)
    assert "worst_csv" not in paths and "worst_png" not in paths
    assert "improvement_csv" not in paths  # one model group: nothing to compare
    assert not (tmp_path / "worst_of_attacks.csv").exists()
    assert paths["profiles_png"].read_bytes()[:4] == b"\x89PNG"
    data = json.loads(paths["json"].read_text())
    assert data["worst_of_attacks"] == [] and data["probability_of_improvement"] == []


@pytest.fixture
def rliable_seed() -> Iterator:
    """``np.random.seed`` for rliable's resampling; the global state is restored afterwards."""
    try:
        from rliable import library
    except Exception as error:  # arch against pandas 3: see test_rliable_stats
        pytest.skip(f"rliable.library does not import here: {error!r}")
    state = np.random.get_state()  # noqa: NPY002
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # arch: random_state is deprecated
        yield library, np.random.seed
    np.random.set_state(state)  # noqa: NPY002


def _normalised(report: RobustnessReport, runs: list[int], columns: list[int]) -> np.ndarray:
    clean = metrics.aggregate_iqm(report.returns[runs, 0])
    reference = report.reference.score
    values = report.returns[runs][:, columns, :].reshape(len(runs), -1)
    return (values - reference) / (clean - reference)


@pytest.mark.parametrize("task_bootstrap", [False, True])
def test_report_statistics_equal_rliable_on_the_same_scores(task_bootstrap: bool, rliable_seed):
    library, seed_numpy = rliable_seed
    report = _hand_report()
    kwargs = {"n_resamples": RLIABLE_REPS, "seed": 3, "task_bootstrap": task_bootstrap}
    groups = {"a": [0, 1], "b": [2]}
    perturbed = list(range(1, len(CONDITIONS)))

    def rliable(scores, func, seed, tasks):
        seed_numpy(seed)
        return library.get_interval_estimates(scores, func, reps=RLIABLE_REPS, task_bootstrap=tasks)

    # The optimality gap of every (group, condition), normalised by the group's clean IQM.
    rows = [r for r in report.summary(**kwargs) if r["condition"] in CHECKED]
    worst = report.worst_of_attacks(**kwargs)[0]  # group a, eps=0.1: a0 fgsm, a1 pgd-new
    assert len(rows) == 2 * len(CHECKED) and worst["group"] == "a"
    for row in [*rows, worst]:
        runs = groups[row["group"]]
        if row is worst:
            clean = metrics.aggregate_iqm(report.returns[runs, 0])
            chosen = np.stack([report.returns[0, 1], report.returns[1, 3]])
            scores = (chosen - 10.0) / (clean - 10.0)
        else:
            scores = _normalised(report, runs, [report.condition_index(row["condition"])])
        tasks = task_bootstrap or len(runs) == 1  # one run: only the episodes to redraw
        points, cis = rliable({"x": scores}, metrics.aggregate_optimality_gap,
                              stats_seed(3, "optimality_gap", row["group"]), tasks)  # fmt: skip
        np.testing.assert_allclose(row["optimality_gap"], points["x"], **EXACT)
        np.testing.assert_allclose(row["optimality_gap_ci"], cis["x"][:, 0], **EXACT)
    # Pooled over the perturbed conditions: IQM and optimality gap in one call.
    for row in report.pooled(**kwargs):
        runs = groups[row["group"]]
        scores = _normalised(report, runs, perturbed)
        tasks = task_bootstrap or len(runs) == 1
        assert row["task_bootstrap"] == tasks and row["n_tasks"] == scores.shape[1]

        def both(x):
            return np.array([metrics.aggregate_iqm(x), metrics.aggregate_optimality_gap(x)])

        points, cis = rliable({row["group"]: scores}, both,
                              stats_seed(3, "pooled", row["group"]), tasks)  # fmt: skip
        np.testing.assert_allclose(
            [row["iqm_normalised"], row["optimality_gap"]], points[row["group"]], **EXACT
        )
        np.testing.assert_allclose(row["iqm_normalised_ci"], cis[row["group"]][:, 0], **EXACT)
        np.testing.assert_allclose(row["optimality_gap_ci"], cis[row["group"]][:, 1], **EXACT)
    # P(b > a) with its CI, per condition (runs redrawn independently: no task bootstrap).
    improvements = [r for r in report.improvements(**kwargs) if r["condition"] in CHECKED]
    assert len(improvements) == len(CHECKED)
    for row in improvements:
        c = report.condition_index(row["condition"])
        assert (row["group_x"], row["group_y"]) == ("b", "a")  # a, the first group: baseline
        pair = [report.returns[[2], c], report.returns[[0, 1], c]]
        points, cis = rliable({"b,a": pair}, metrics.probability_of_improvement,
                              stats_seed(3, "improvement", "b", "a"), False)  # fmt: skip
        assert row["probability_of_improvement"] == points["b,a"]
        np.testing.assert_allclose(row["probability_of_improvement_ci"], cis["b,a"][:, 0], **EXACT)
    # Performance profiles: clean and pooled perturbed scores per group, one stream.
    data = report.performance_profiles(**kwargs)
    assert data["scale"] == "normalised" and data["task_bootstrap"] is True  # b has one run
    score_dict = {}
    for group, runs in groups.items():
        score_dict[f"{group}: clean"] = _normalised(report, runs, [0])
        score_dict[f"{group}: perturbed"] = _normalised(report, runs, perturbed)
    taus = np.asarray(data["taus"])
    everything = np.concatenate([v.ravel() for v in score_dict.values()])
    np.testing.assert_allclose(taus, np.linspace(everything.min(), everything.max(), 101), **EXACT)
    seed_numpy(stats_seed(3, "profiles"))
    profiles, bands = library.create_performance_profile(
        score_dict, taus, reps=RLIABLE_REPS, task_bootstrap=True
    )
    assert list(data["profiles"]) == list(score_dict)
    for key in score_dict:
        np.testing.assert_array_equal(data["profiles"][key], profiles[key])
        np.testing.assert_allclose(data["bands"][key], bands[key], **EXACT)


def test_files_hold_the_new_columns_and_read_back(tmp_path: Path) -> None:
    report = _hand_report()
    paths = save_report(report, tmp_path, n_resamples=REPS)
    for key in ("worst_png", "profiles_png", "curve_png", "bar_png"):
        assert paths[key].read_bytes()[:4] == b"\x89PNG", key
    with open(paths["worst_csv"]) as handle:
        worst = list(csv.DictReader(handle))
    assert [(r["group"], r["budget"]) for r in worst] == [
        ("a", "eps=0.1"), ("a", "eps=0.1+random_action:0.1"),
        ("b", "eps=0.1"), ("b", "eps=0.1+random_action:0.1"),
    ]  # fmt: skip
    assert worst[0]["worst_attack_by_run"] == "a0=fgsm:0.1;a1=pgd-new:0.1"
    assert worst[0]["attacks"] == "fgsm:0.1;pgd:0.1;pgd-new:0.1"
    row = report.worst_of_attacks(n_resamples=REPS)[0]
    assert float(worst[0]["iqm"]) == row["iqm"]
    assert float(worst[0]["optimality_gap_ci_high"]) == row["optimality_gap_ci"][1]
    with open(paths["summary_csv"]) as handle:
        summary = list(csv.DictReader(handle))
    assert {"optimality_gap", "optimality_gap_ci_low", "optimality_gap_ci_high"} <= set(summary[0])
    with open(paths["improvement_csv"]) as handle:
        improvement = list(csv.DictReader(handle))
    assert len(improvement) == len(CONDITIONS) and improvement[0]["group_x"] == "b"
    assert improvement[0]["probability_of_improvement_ci_low"] != ""
    data = json.loads(paths["json"].read_text())
    assert data["statistics"] == {"n_resamples": REPS, "confidence": 0.95, "seed": 0,
                                  "task_bootstrap": False}  # fmt: skip
    assert data["worst_of_attacks"] == json.loads(json.dumps(report.worst_of_attacks(
        n_resamples=REPS)))  # fmt: skip
    assert set(data["performance_profiles"]) == {"scale", "task_bootstrap", "taus", "profiles",
                                                 "bands"}  # fmt: skip
    # A report written before these statistics existed reads back and recomputes them.
    for key in ("statistics", "worst_of_attacks", "probability_of_improvement", "pooled",
                "performance_profiles"):  # fmt: skip
        del data[key]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    loaded = RobustnessReport.load_json(old)
    assert loaded.worst_of_attacks(n_resamples=REPS) == report.worst_of_attacks(n_resamples=REPS)
    assert loaded.pooled(n_resamples=REPS) == report.pooled(n_resamples=REPS)
    with pytest.raises(TypeError, match="unexpected statistics options"):
        report.pooled(resamples=10)


def test_cli_task_bootstrap_and_worst_of_real_attacks(
    untrained_cartpole: PPO, tmp_path: Path
) -> None:
    from rlnoise.evaluation.cli import main

    untrained_cartpole.save(tmp_path / "agent.zip")
    grid = tmp_path / "grid.yaml"
    grid.write_text("clean: true\nfgsm: [0.3]\npgd: {levels: [0.3], steps: 3}\n")
    out = tmp_path / "out"
    code = main(
        ["--model", str(tmp_path / "agent.zip"), "--env", "CartPole-v1", "--grid", str(grid),
         "--episodes", "3", "--device", "cpu", "--out", str(out), "--no-progress",
         "--bootstrap", "100", "--task-bootstrap", "--reference-score", "0"]
    )  # fmt: skip
    assert code == 0
    data = json.loads((out / "report.json").read_text())
    assert data["statistics"]["task_bootstrap"] is True
    (worst,) = data["worst_of_attacks"]
    assert worst["budget"] == "eps=0.3" and worst["attacks"] == ["fgsm:0.3", "pgd:0.3"]
    means = {name: np.mean(data["returns"][0][i]) for i, name in
             enumerate(c["name"] for c in data["conditions"])}  # fmt: skip
    assert worst["runs"][0]["mean_return"] == min(means["fgsm:0.3"], means["pgd:0.3"])
    assert (out / "worst_of_attacks.png").stat().st_size > 0
    assert (out / "performance_profiles.png").stat().st_size > 0


def test_worst_of_attacks_plot_shows_each_budgets_worst_iqm_and_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    from rlnoise.evaluation.display_stats import plot_worst_of_attacks

    figures, save = [], Figure.savefig

    def keep(self, *args, **kwargs):
        figures.append(self)
        return save(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", keep)
    report = _hand_report()
    path = plot_worst_of_attacks(report, tmp_path / "worst.png", n_resamples=REPS)
    assert path is not None and path.read_bytes()[:4] == b"\x89PNG"
    (ax,) = figures[0].axes
    rows = report.worst_of_attacks(n_resamples=REPS)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["eps=0.1", "eps=0.1+random_action:0.1"]
    for g, group in enumerate("ab"):
        dots = ax.containers[g].lines[0]  # the errorbar's centres
        mine = [r for r in rows if r["group"] == group]
        assert dots.get_ydata().tolist() == [r["iqm"] for r in mine]
        assert ax.containers[g].get_label() == f"{group}: worst of attacks"


def test_random_noise_in_the_ball_is_the_baseline_not_part_of_worst_of() -> None:
    from rlnoise.evaluation.conditions import Condition
    from rlnoise.evaluation.perturbations import ObservationAttackPerturbation as Attack
    from rlnoise.evaluation.worst_attack import attack_budgets

    conditions = [
        Condition.clean(),
        Condition("random_sign:0.1", (Attack("random_sign", 0.1),)),
        Condition("fgsm:0.1", (Attack("fgsm", 0.1),)),
        Condition("random_uniform:0.1", (Attack("random_uniform", 0.1),)),
        Condition("pgd:0.1", (Attack("pgd", 0.1),)),
    ]
    assert attack_budgets(conditions) == {"eps=0.1": [2, 4]}
    assert not Attack("random_uniform", 0.1).adversarial and Attack("mad", 0.1).adversarial
