"""Showing worst-of-attacks and rliable's statistics: rich tables and matplotlib PNGs.

:mod:`rlnoise.evaluation.display` calls these from ``print_tables`` and
``save_report``:

- :func:`print_worst_of_attacks`: per (model group, budget) the worst-of
  IQM with its CI, the normalised score, the optimality gap, and which
  attack was worst for each run.
- :func:`print_rliable`: per model group the normalised IQM and optimality
  gap pooled over the perturbed conditions; with several groups, P(X > Y)
  of each group over the first, with its CI, per condition.
- :func:`plot_worst_of_attacks`: per budget, the IQM of each attack and of
  the worst of them (95% CI), one colour per model group.
- :func:`plot_profiles`: performance profiles (score distributions) of each
  group's clean and perturbed scores with their 95% CI bands.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from rlnoise.evaluation.profile_plot import plot_performance_profiles
from rlnoise.evaluation.report import RobustnessReport

__all__ = ["plot_profiles", "plot_worst_of_attacks", "print_rliable", "print_worst_of_attacks"]


def _fmt(value: Any, digits: int | None = None) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if digits is None:
        size = abs(value)
        digits = 0 if size >= 100 else 1 if size >= 10 else 2
    return f"{value:.{digits}f}"


def _interval(value: Any, ci: Any, digits: int | None = None) -> str:
    if value is None:
        return "-"
    if ci is None:
        return _fmt(value, digits)
    return f"{_fmt(value, digits)} [{_fmt(ci[0], digits)}, {_fmt(ci[1], digits)}]"


def print_worst_of_attacks(report: RobustnessReport, console: Any, **summary_kwargs: Any) -> None:
    """The worst-of-attacks table (nothing when no budget has two attack conditions)."""
    from rich.table import Table

    rows = report.worst_of_attacks(**summary_kwargs)
    if not rows:
        return
    table = Table(
        title="Worst of attacks: per run, the attack of the budget with the lowest mean return",
        caption="optimality gap = 1 - mean(min(normalised score, 1)): shortfall from clean",
        caption_justify="left",
    )
    names = ["model", "budget", "attacks", "IQM [95% CI]", "normalised [95% CI]",
             "optimality gap [95% CI]", "worst attack per run"]  # fmt: skip
    for name in names:
        right = name not in ("model", "budget", "worst attack per run")
        table.add_column(name, justify="right" if right else "left", no_wrap=name != names[-1])
    for row in rows:
        worst = ", ".join(f"{run['run']}: {run['worst_attack']}" for run in row["runs"])
        table.add_row(
            row["group"],
            row["budget"],
            str(len(row["attacks"])),
            _interval(row["iqm"], row["iqm_ci"]),
            _interval(row["iqm_normalised"], row["iqm_normalised_ci"]),
            _interval(row["optimality_gap"], row["optimality_gap_ci"], 2),
            worst,
        )
    console.print(table)


def print_rliable(report: RobustnessReport, console: Any, **summary_kwargs: Any) -> None:
    """Pooled normalised IQM and optimality gap per group; P(X > Y) with its CI."""
    from rich.table import Table

    pooled = [row for row in report.pooled(**summary_kwargs) if row["n_conditions"]]
    if pooled:
        table = Table(title="All perturbed conditions pooled (tasks = condition x episode)")
        for name in ("model", "conditions", "bootstrap", "normalised IQM [95% CI]",
                     "optimality gap [95% CI]"):  # fmt: skip
            table.add_column(name, justify="left" if name == "model" else "right", no_wrap=True)
        for row in pooled:
            table.add_row(
                row["group"],
                str(row["n_conditions"]),
                "runs + episodes" if row["task_bootstrap"] else "runs",
                _interval(row["iqm_normalised"], row["iqm_normalised_ci"], 2),
                _interval(row["optimality_gap"], row["optimality_gap_ci"], 2),
            )
        console.print(table)
    improvements = report.improvements(**summary_kwargs)
    if improvements:
        baseline = improvements[0]["group_y"]
        others = list(dict.fromkeys(row["group_x"] for row in improvements))
        table = Table(
            title=f"Probability of improvement over {baseline}: P(X > {baseline}) [95% CI]",
            caption="episodes as tasks; runs redrawn within each group (no CI with one run each)",
            caption_justify="left",
        )
        table.add_column("condition", no_wrap=True)
        for name in others:
            table.add_column(f"X = {name}", justify="right", no_wrap=True)
        cells: dict[str, dict[str, str]] = {}
        for row in improvements:
            cells.setdefault(row["condition"], {})[row["group_x"]] = _interval(
                row["probability_of_improvement"], row["probability_of_improvement_ci"], 2
            )
        for condition, by_group in cells.items():
            table.add_row(condition, *(by_group[name] for name in others))
        console.print(table)


def plot_worst_of_attacks(
    report: RobustnessReport, path: str | Path, **summary_kwargs: Any
) -> Path | None:
    """Per budget: each attack's IQM (short dashes) and the worst-of IQM with its 95% CI.

    Drawn on a bare ``Figure`` (no pyplot state); ``None`` when there is no worst-of row.
    """
    from matplotlib.figure import Figure

    rows = report.worst_of_attacks(**summary_kwargs)
    if not rows:
        return None
    summary = {(r["group"], r["condition"]): r for r in report.summary(**summary_kwargs)}
    budgets = list(dict.fromkeys(r["budget"] for r in rows))
    groups = report.groups
    width = max(5.0, 1.2 * len(budgets) + 2)
    figure = Figure(figsize=(width, 4.0))
    ax = figure.subplots()
    x = np.arange(len(budgets))
    shift = 0.6 / len(groups)
    for g, group in enumerate(groups):
        mine = {r["budget"]: r for r in rows if r["group"] == group}
        at = x + (g - (len(groups) - 1) / 2) * shift
        centre = np.array([mine[b]["iqm"] for b in budgets])
        low, high = (np.array([mine[b]["iqm_ci"][k] for b in budgets]) for k in (0, 1))
        color = f"C{g % 10}"
        ax.errorbar(at, centre, yerr=np.vstack([centre - low, high - centre]), fmt="o",
                    capsize=4, color=color, label=f"{group}: worst of attacks")  # fmt: skip
        pairs = [(a, n) for a, b in zip(at, budgets, strict=True) for n in mine[b]["attacks"]]
        iqms = [summary[(group, name)]["iqm"] for _, name in pairs]
        ax.scatter([a for a, _ in pairs], iqms, marker="_", s=120, color=color, alpha=0.6,
                   label=f"{group}: each attack")  # fmt: skip
    reference = report.reference.score
    if reference is not None and np.isfinite(reference):
        label = "random policy" if report.reference.kind == "uniform_random" else "reference"
        ax.axhline(reference, color="0.5", linestyle="--", linewidth=1, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(budgets, rotation=30, ha="right", fontsize="small")
    ax.set_xlim(-0.5, len(budgets) - 0.5)
    ax.set_xlabel("attack budget")
    ax.set_ylabel("IQM return")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small")
    env = report.metadata.get("env", {}).get("id", "")
    title = f"{env} worst of attacks: IQM return, 95% bootstrap CI".strip()
    figure.suptitle("\n".join(textwrap.wrap(title, max(20, int(width * 9)))))
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path


def plot_profiles(report: RobustnessReport, path: str | Path, **summary_kwargs: Any) -> Path:
    """Performance profiles of each group's clean and perturbed scores, 95% CI bands."""
    data = report.performance_profiles(**summary_kwargs)
    normalised = data["scale"] == "normalised"
    env = report.metadata.get("env", {}).get("id", "")
    return plot_performance_profiles(
        data["profiles"],
        data["taus"],
        path,
        bands=data["bands"],
        xlabel=r"normalised return ($\tau$; 1 = clean IQM)" if normalised else r"return ($\tau$)",
        ylabel=r"fraction of episodes with score $> \tau$",
        title=f"{env} score distributions, 95% bootstrap bands".strip(),
    )
