"""Showing a report: rich tables on the terminal, matplotlib PNGs (Agg backend).

- :func:`print_tables`: one row per (model group, condition) with mean ± std,
  the 95% CI of the mean, IQM with its CI, median and the return as a
  fraction of clean; then per condition family the average, worst case and
  area under the robustness curve.
- :func:`plot_curves`: mean return vs level, one panel per curve family
  (observation noise kinds, action perturbations, weight noise, attacks),
  one line per model group with its CI band.
- :func:`plot_bars`: the unordered conditions (dynamics changes, combined
  conditions) as bars with CI error bars, next to clean.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rlnoise.evaluation.report import RobustnessReport

__all__ = ["plot_bars", "plot_curves", "print_tables"]


def _fmt(value: Any, digits: int | None = None) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if digits is None:  # fewer decimals for larger numbers keeps columns narrow
        size = abs(value)
        digits = 0 if size >= 100 else 1 if size >= 10 else 2
    return f"{value:.{digits}f}"


def print_tables(report: RobustnessReport, console: Any = None, **summary_kwargs: Any) -> None:
    """Print the summary and the family tables with rich."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # logs and pipes: wide enough that nothing is cut
            console = Console(width=max(console.width, 120))
    rows = report.summary(**summary_kwargs)
    several = len(report.groups) > 1
    env = report.metadata.get("env", {}).get("id", "?")
    n_episodes = report.returns.shape[2]
    runs = len(report.runs)
    table = Table(title=f"Robustness on {env}: {runs} run(s) x {n_episodes} episodes per condition")
    if several:
        table.add_column("model", no_wrap=True)
    table.add_column("condition", no_wrap=True)
    for name in ("mean ± std", "95% CI of mean", "IQM", "median", "%clean"):
        table.add_column(name, justify="right", no_wrap=True)
    for row in rows:
        low, high = row["mean_ci"]
        fraction = row["fraction_of_clean"]
        cells = [
            row["condition"],
            f"{_fmt(row['mean'])} ± {_fmt(row['std'])}",
            f"[{_fmt(low)}, {_fmt(high)}]",
            _fmt(row["iqm"]),
            _fmt(row["median"]),
            "-" if fraction is None else f"{100 * fraction:.0f}%",
        ]
        table.add_row(*([row["group"], *cells] if several else cells))
    console.print(table)
    families = report.families(**summary_kwargs)
    if not families:
        return
    grid = Table(title="Per family: average, worst case, area under the robustness curve")
    if several:
        grid.add_column("model", no_wrap=True)
    grid.add_column("family", no_wrap=True)
    for name in ("n", "average", "worst", "worst at", "AUC"):
        grid.add_column(name, justify="left" if name == "worst at" else "right", no_wrap=True)
    for entry in families:
        auc = entry["auc"]
        auc_text = "-"
        if auc is not None:
            auc_text = (
                f"{100 * auc:.0f}% of clean"
                if entry.get("auc_of") == "fraction_of_clean"
                else _fmt(auc)
            )
        cells = [
            entry["condition_group"],
            str(entry["n_conditions"]),
            _fmt(entry["average"]),
            _fmt(entry["worst"]),
            entry["worst_condition"],
            auc_text,
        ]
        grid.add_row(*([entry["group"], *cells] if several else cells))
    console.print(grid)


def _level_label(family: str) -> str:
    if family in ("random_action", "sticky_action"):
        return "probability"
    if family.startswith(("fgsm", "pgd")):
        return "eps (l_inf radius)"
    return "noise scale"


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_curves(report: RobustnessReport, path: str | Path, **summary_kwargs: Any) -> Path | None:
    """Robustness curves (mean return vs level, 95% CI bands); ``None`` when there are none."""
    curves = report.curves(**summary_kwargs)
    families = list(dict.fromkeys(name for per in curves.values() for name in per))
    if not families:
        return None
    plt = _pyplot()
    columns = min(3, len(families))
    rows = -(-len(families) // columns)
    figure, axes = plt.subplots(  # one return scale across panels: families compare at a glance
        rows, columns, figsize=(4.2 * columns, 3.3 * rows), squeeze=False, sharey=True
    )
    for ax, family in zip(axes.flat, families, strict=False):
        for group, per in curves.items():
            points = per.get(family)
            if not points:
                continue
            levels = [p["level"] for p in points]
            means = [p["mean"] for p in points]
            low = [p["mean_ci"][0] for p in points]
            high = [p["mean_ci"][1] for p in points]
            (line,) = ax.plot(levels, means, marker="o", label=group)
            ax.fill_between(levels, low, high, alpha=0.2, color=line.get_color())
        ax.set_title(family)
        ax.set_xlabel(_level_label(family))
        ax.set_ylabel("mean return")
        ax.yaxis.set_tick_params(labelleft=True)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(families) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    env = report.metadata.get("env", {}).get("id", "")
    figure.suptitle(f"Robustness curves {env} (95% bootstrap CI)")
    return _save(plt, figure, path)


def plot_bars(report: RobustnessReport, path: str | Path, **summary_kwargs: Any) -> Path | None:
    """Bars for unordered conditions (and clean), with 95% CI error bars; ``None`` if none."""
    from rlnoise.evaluation.report import is_curve_group

    rows = report.summary(**summary_kwargs)
    names = [
        c.name
        for c in report.conditions
        if c.is_clean or not is_curve_group(c.group) or c.level is None
    ]
    if len(names) <= 1:
        return None
    plt = _pyplot()
    groups = report.groups
    width = 0.8 / len(groups)
    figure, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(names) + 2), 3.8))
    x = np.arange(len(names))
    for g, group in enumerate(groups):
        lookup = {r["condition"]: r for r in rows if r["group"] == group}
        means = np.array([lookup[n]["mean"] for n in names])
        low = np.array([lookup[n]["mean_ci"][0] for n in names])
        high = np.array([lookup[n]["mean_ci"][1] for n in names])
        errors = np.vstack([means - low, high - means])
        ax.bar(x + (g - (len(groups) - 1) / 2) * width, means, width, yerr=errors, label=group,
               capsize=3)  # fmt: skip
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize="small")
    ax.set_ylabel("mean return")
    ax.grid(axis="y", alpha=0.3)
    if len(groups) > 1:
        ax.legend(fontsize="small")
    env = report.metadata.get("env", {}).get("id", "")
    ax.set_title(f"Unordered conditions {env} (95% bootstrap CI)")
    return _save(plt, figure, path)


def _save(plt: Any, figure: Any, path: str | Path) -> Path:
    """Lay ``figure`` out, write it to ``path`` (PNG at 110 dpi) and free it."""
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
