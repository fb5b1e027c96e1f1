"""Reports: statistics per group and condition, JSON/CSV/PNG files, the terminal table."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from stable_baselines3 import PPO

from rlnoise.evaluation import Condition, RobustnessReport, display, evaluate_robustness
from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.display import print_tables, save_report
from rlnoise.evaluation.perturbations import DynamicsPerturbation, ObservationNoisePerturbation
from rlnoise.evaluation.reference import Reference

GRID = {
    "gaussian": [0.0, 0.05, 0.2],
    "random_action": [0.3],
    "dynamics": {"attributes": {"length": [1.0, 2.0]}},
}


@pytest.fixture(scope="module")
def report(untrained_cartpole: PPO) -> RobustnessReport:
    other = PPO("MlpPolicy", "CartPole-v1", seed=13, device="cpu")
    return evaluate_robustness(
        {"a": [untrained_cartpole, other], "b": other}, "CartPole-v1", GRID, 5, 0, "cpu",
        progress=False,
    )  # fmt: skip


def test_summary_rows_match_the_statistics(report: RobustnessReport) -> None:
    rows = report.summary(n_resamples=500)
    assert len(rows) == 2 * len(report.conditions)
    row = next(r for r in rows if r["group"] == "a" and r["condition"] == "obs:gaussian:0.2")
    scores = report.scores("a", "obs:gaussian:0.2")
    assert scores.shape == (2, 5)
    assert row["mean"] == st.mean(scores) and row["iqm"] == st.iqm(scores)
    assert row["median"] == st.median(scores) and row["n_runs"] == 2
    assert row["mean_ci"][0] <= row["mean"] <= row["mean_ci"][1]
    clean = st.iqm(report.scores("a", "clean"))
    reference = report.reference
    assert reference.kind == "uniform_random" and reference.returns is not None
    assert reference.score == st.iqm(reference.returns[None])
    assert row["iqm_diff_to_clean"] == row["iqm"] - clean
    assert row["iqm_normalised"] == pytest.approx(
        (row["iqm"] - reference.score) / (clean - reference.score), abs=1e-12
    )
    assert row["iqm_ci"][0] <= row["iqm"] <= row["iqm_ci"][1]
    assert row["nonfinite_observations"] == 0 and row["normalised_note"] is None


def test_differences_to_clean_are_paired(report: RobustnessReport) -> None:
    # gaussian:0.0 plays exactly the clean episodes (common random numbers): a paired
    # bootstrap gives its difference to clean the CI [0, 0], where an unpaired one would
    # be as wide as clean's own CI.
    rows = {(r["group"], r["condition"]): r for r in report.summary(n_resamples=300)}
    for group in ("a", "b"):
        same, clean = rows[(group, "obs:gaussian:0")], rows[(group, "clean")]
        assert same["iqm"] == clean["iqm"] and clean["iqm_ci"][1] > clean["iqm_ci"][0]
        assert same["iqm_diff_to_clean_ci"] == [0.0, 0.0]
        assert same["iqm_normalised"] == 1.0 and same["iqm_normalised_ci"] == [1.0, 1.0]


def _pendulum_like(clean: list[float], worse: list[float], reference: Reference):
    conditions = (
        Condition.clean(),
        Condition(
            "obs:gaussian:0.05",
            (ObservationNoisePerturbation("gaussian:0.05"),),
            "obs:gaussian",
            0.05,
        ),
        Condition(
            "dynamics:g=15.0", (DynamicsPerturbation(make_kwargs={"g": 15.0}),), "dynamics:g", 15.0
        ),
    )
    slightly = [value - 0.5 for value in clean]
    return RobustnessReport(
        returns=np.array([[clean, slightly, worse]]),
        lengths=np.full((1, 3, len(clean)), 200),
        conditions=conditions,
        runs=({"name": "sac-0", "group": "sac"},),
        metadata={"env": {"id": "Pendulum-v1"}},
        reference=reference,
    )


@pytest.mark.parametrize(
    "reference",
    [Reference.given(-6000.0), Reference.uniform_random([-5800.0, -6100.0, -5900.0], [200] * 3)],
)
def test_negative_returns_worse_than_clean_score_below_one(reference: Reference) -> None:
    # The Pendulum numbers: g=15 at about -1707 against clean at about -1662 was
    # reported as 103% of clean. Worse must read as worse in every column.
    report = _pendulum_like([-1650.0, -1662.0, -1674.0], [-1695.0, -1707.0, -1719.0], reference)
    rows = {row["condition"]: row for row in report.summary(n_resamples=500)}
    for name in ("obs:gaussian:0.05", "dynamics:g=15.0"):
        assert rows[name]["iqm_diff_to_clean"] < 0
        assert rows[name]["iqm_diff_to_clean_ci"][1] < 0
        assert rows[name]["iqm_normalised"] < 1
    assert rows["dynamics:g=15.0"]["iqm_diff_to_clean"] == pytest.approx(-45.0)
    expected = (-1707.0 - reference.score) / (-1662.0 - reference.score)
    assert rows["dynamics:g=15.0"]["iqm_normalised"] == pytest.approx(expected, abs=1e-12)
    assert rows["clean"]["iqm_normalised"] == 1.0
    auc = report.families(n_resamples=500)[0]
    assert auc["condition_group"] == "obs:gaussian" and auc["auc_normalised"] < 1


def test_normalised_score_is_undefined_when_clean_is_no_better_than_the_reference() -> None:
    # An agent at -1662 against a random policy at -1200 does worse than random: no
    # normalised score (None with the reason), never a huge or sign-flipped one.
    reference = Reference.uniform_random([-1150.0, -1200.0, -1250.0], [200] * 3)
    report = _pendulum_like([-1650.0, -1662.0, -1674.0], [-1695.0, -1707.0, -1719.0], reference)
    for row in report.summary(n_resamples=200):
        assert row["iqm_normalised"] is None and row["iqm_normalised_ci"] is None
        assert "not above the reference -1200" in row["normalised_note"]
        assert row["iqm_diff_to_clean"] <= 0  # the difference is still defined
    assert all(f["auc_normalised"] is None for f in report.families(n_resamples=200))
    buffer = io.StringIO()
    print_tables(report, Console(file=buffer, width=160), n_resamples=200)
    assert "does no better than the reference" in " ".join(buffer.getvalue().split())
    unavailable = _pendulum_like([-1.0, -2.0], [-3.0, -4.0], Reference.unavailable("no bounds"))
    row = unavailable.summary(n_resamples=50)[2]
    assert row["iqm_normalised"] is None and row["normalised_note"] == "no bounds"
    assert row["iqm_diff_to_clean"] == -2.0


def test_families_curves_and_worst_case(report: RobustnessReport) -> None:
    curves = report.curves(n_resamples=200)
    gaussian = curves["a"]["obs:gaussian"]
    assert [p["level"] for p in gaussian] == [0.0, 0.05, 0.2]  # gaussian:0.0 is level 0
    families = {(f["group"], f["condition_group"]): f for f in report.families(n_resamples=200)}
    dynamics = families[("a", "dynamics:length")]
    iqms = [st.iqm(report.scores("a", n)) for n in ("dynamics:length=1.0", "dynamics:length=2.0")]
    assert dynamics["iqm_worst"] == min(iqms)
    assert dynamics["iqm_average"] == pytest.approx(np.mean(iqms))
    assert dynamics["auc_normalised"] is None  # dynamics are bars, not curves
    normalised = [p["iqm_normalised"] for p in gaussian]
    expected = st.robustness_auc([0.0, 0.05, 0.2], normalised)
    assert families[("a", "obs:gaussian")]["auc_normalised"] == pytest.approx(expected)


def test_probability_of_improvement_between_groups(report: RobustnessReport) -> None:
    p = report.probability_of_improvement("a", "b", "clean")
    q = report.probability_of_improvement("b", "a", "clean")
    assert p + q == pytest.approx(1.0)


def test_files(report: RobustnessReport, tmp_path: Path) -> None:
    paths = save_report(report, tmp_path, n_resamples=200)
    assert set(paths) == {"json", "episodes_csv", "summary_csv", "curve_png", "bar_png"}
    for key in ("curve_png", "bar_png"):
        assert paths[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(paths["json"].read_text())
    assert data["metadata"]["versions"]["stable_baselines3"]
    assert data["metadata"]["seed"] == 0 and data["episode_reset_seeds"] == [0, 1, 2, 3, 4]
    assert data["conditions"][1]["perturbations"][0]["noise"]["kind"] == "gaussian"
    assert data["reference"]["kind"] == "uniform_random" and data["reference"]["statistic"] == "iqm"
    assert data["nonfinite_observations"] == [[0] * len(report.conditions)] * 3
    assert "fraction_of_clean" not in data["summary"][0]
    loaded = RobustnessReport.load_json(paths["json"])
    assert np.array_equal(loaded.returns, report.returns)
    assert loaded.conditions == report.conditions
    assert np.array_equal(loaded.reference.returns, report.reference.returns)
    assert loaded.summary(n_resamples=200) == report.summary(n_resamples=200)
    with open(paths["episodes_csv"]) as handle:
        rows = list(csv.DictReader(handle))
    n_reference = report.returns.shape[2]
    assert len(rows) == report.returns.size + n_reference
    first = rows[0]
    assert float(first["return"]) == report.returns[0, 0, 0] and first["reset_seed"] == "0"
    reference_rows = [row for row in rows if row["run"] == "random-reference"]
    assert [float(row["return"]) for row in reference_rows] == report.reference.returns.tolist()
    assert [row["reset_seed"] for row in reference_rows] == ["0", "1", "2", "3", "4"]
    with open(paths["summary_csv"]) as handle:
        summary = list(csv.DictReader(handle))
    assert len(summary) == 2 * len(report.conditions)
    new_columns = [
        "iqm_diff_to_clean", "iqm_diff_to_clean_ci_low", "iqm_normalised",
        "iqm_normalised_ci_high", "normalised_note", "nonfinite_observations",
    ]  # fmt: skip
    assert set(new_columns) <= set(summary[0])
    assert "fraction_of_clean" not in summary[0]


def test_table(report: RobustnessReport) -> None:
    buffer = io.StringIO()
    print_tables(report, Console(file=buffer, width=140), n_resamples=200)
    text = buffer.getvalue()
    for name in ("obs:gaussian:0.2", "random_action:0.3", "dynamics:length=2.0", "worst IQM"):
        assert name in text
    for name in ("IQM - clean [95% CI]", "normalised [95% CI]", "uniformly random policy"):
        assert name in text
    assert "%clean" not in text and "% of clean" not in text
    assert "non-finite" not in text  # shown only when there were any


def _captured_figure(monkeypatch: pytest.MonkeyPatch, plot, report, tmp_path: Path):
    """The figure a plot function draws, rendered, before it is saved and closed."""
    figures = []

    def keep(plt, figure, path):
        figure.tight_layout()
        figure.canvas.draw()
        figures.append(figure)
        return Path(path)

    monkeypatch.setattr(display, "_save", keep)
    plot(report, tmp_path / "plot.png", n_resamples=200)
    return figures[0]


def test_plots_show_the_iqm_and_its_ci(
    report: RobustnessReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = {(r["group"], r["condition"]): r for r in report.summary(n_resamples=200)}
    figure = _captured_figure(monkeypatch, display.plot_curves, report, tmp_path)
    panel = next(ax for ax in figure.axes if ax.get_title() == "obs:gaussian")
    line = next(line for line in panel.lines if line.get_label() == "a")
    expected = [rows[("a", n)]["iqm"] for n in ("obs:gaussian:0", "obs:gaussian:0.05",
                                                  "obs:gaussian:0.2")]  # fmt: skip
    assert line.get_ydata().tolist() == expected
    assert panel.get_ylabel() == "IQM return"
    reference = [line for line in panel.lines if line.get_label() == "random policy"]
    assert reference[0].get_ydata()[0] == report.reference.score


def test_condition_plot_uses_dots_not_bars_and_keeps_its_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Negative returns: a bar would hang from 0. Three conditions: the narrowest figure,
    # whose title was cut before; it must lie inside the figure.
    reference = Reference.given(-6000.0)
    report = _pendulum_like([-1650.0, -1662.0, -1674.0], [-1695.0, -1707.0, -1719.0], reference)
    clean, noise, dynamics = report.conditions
    report.conditions = (clean, Condition("combined", noise.perturbations), dynamics)
    figure = _captured_figure(monkeypatch, display.plot_bars, report, tmp_path)
    (ax,) = figure.axes
    assert not ax.patches  # no bars
    rows = {r["condition"]: r for r in report.summary(n_resamples=200)}
    expected = [rows[c.name]["iqm"] for c in report.conditions]
    assert ax.lines[0].get_ydata().tolist() == expected
    title = figure._suptitle
    box = title.get_window_extent(figure.canvas.get_renderer())
    assert "unordered" not in title.get_text().lower()
    assert box.x0 >= 0 and box.x1 <= figure.bbox.x1 and box.y1 <= figure.bbox.y1


def test_bad_shapes_and_files(tmp_path: Path, report: RobustnessReport) -> None:
    with pytest.raises(ValueError, match="returns must have shape"):
        RobustnessReport(np.zeros((1, 2)), np.zeros((1, 2)), report.conditions, report.runs, {})
    path = tmp_path / "x.json"
    path.write_text("{}")
    with pytest.raises(ValueError, match=r"is not a rlnoise\.robustness_report"):
        RobustnessReport.load_json(path)


def test_damaged_report_file_and_bad_condition_index(
    tmp_path: Path, report: RobustnessReport
) -> None:
    path = report.save_json(tmp_path / "report.json", n_resamples=10)
    data = json.loads(path.read_text())
    del data["lengths"]
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match="is damaged: KeyError"):
        RobustnessReport.load_json(path)
    for bad in (len(report.conditions), -1, True):
        with pytest.raises(ValueError, match="condition must be a name or an index"):
            report.scores("a", bad)


def test_reference_score_flag_reaches_the_report(untrained_cartpole: PPO, tmp_path: Path) -> None:
    from rlnoise.evaluation.cli import main

    untrained_cartpole.save(tmp_path / "agent.zip")
    out = tmp_path / "out"
    code = main(
        ["--model", str(tmp_path / "agent.zip"), "--env", "CartPole-v1", "--grid", "quick",
         "--episodes", "3", "--device", "cpu", "--out", str(out), "--no-progress",
         "--no-plots", "--bootstrap", "100", "--reference-score", "5"]
    )  # fmt: skip
    assert code == 0
    data = json.loads((out / "report.json").read_text())
    assert data["reference"] == {
        "kind": "given", "statistic": None, "score": 5.0, "condition": None, "returns": None,
        "lengths": None, "note": None,
    }  # fmt: skip
    clean = data["summary"][0]
    assert clean["condition"] == "clean" and clean["iqm_normalised"] == 1.0
    with pytest.raises(SystemExit):
        main(["--model", "x.zip", "--out", str(out), "--reference-score", "inf"])
