"""Showing a report: rich tables on the terminal, matplotlib PNGs (Agg backend).

This module reads reports (:mod:`rlnoise.evaluation.report`); a report knows
nothing of how it is shown.

- :func:`save_report`: the report's data files and its PNGs, in one directory.
- :func:`print_tables`: one row per (model group, condition) with the IQM and
  its 95% CI, mean ± std, the difference of the IQM to clean with its CI and
  the normalised score with its CI (and, when the env returned any, the
  count of non-finite observations); then per condition family the average
  and worst IQM and the area under the normalised robustness curve.
- :func:`plot_curves`: IQM return vs level with its 95% CI band, one panel
  per curve family (observation noise kinds, action perturbations, weight
  noise, attacks), one line per model group; the reference score dashed.
- :func:`plot_bars`: the conditions that have no level to plot against
  (dynamics changes, combined conditions), next to clean, as IQM dots with
  95% CI error bars (dots, not bars: a bar of a negative return would hang
  from 0, a baseline that means nothing for returns).
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from rlnoise.evaluation.report import RobustnessReport
from rlnoise.evaluation.summary import is_curve_group
from rlnoise.runs.files import atomic_path

__all__ = ["plot_bars", "plot_curves", "print_tables", "save_report"]


def save_report(
    report: RobustnessReport, directory: str | Path, *, plots: bool = True, **summary_kwargs: Any
) -> dict[str, Path]:
    """Write the report's files into ``directory``: its data files and the PNG plots.

    ``report.json``, ``episodes.csv`` and ``summary.csv``
    (:meth:`RobustnessReport.save`), then ``robustness_curve.png`` and
    ``conditions_bar.png`` when there is something to draw (``plots=False``:
    the data files only). Every file is written whole (temporary file, rename).

    Returns:
        The paths written, by kind (``json``, ``episodes_csv``, ``summary_csv``,
        ``curve_png``, ``bar_png``).
    """
    directory = Path(directory)
    paths = report.save(directory, **summary_kwargs)
    if plots:
        for key, name, plot in [
            ("curve_png", "robustness_curve.png", plot_curves),
            ("bar_png", "conditions_bar.png", plot_bars),
        ]:
            with atomic_path(directory / name) as temporary:
                if plot(report, temporary, **summary_kwargs) is not None:
                    paths[key] = directory / name
    return paths


def _fmt(value: Any, digits: int | None = None) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "-"
    if digits is None:  # fewer decimals for larger numbers keeps columns narrow
        size = abs(value)
        digits = 0 if size >= 100 else 1 if size >= 10 else 2
    return f"{value:.{digits}f}"


def _interval(value: Any, ci: Any) -> str:
    if value is None:
        return "-"
    if ci is None:
        return _fmt(value)
    return f"{_fmt(value)} [{_fmt(ci[0])}, {_fmt(ci[1])}]"


def print_tables(report: RobustnessReport, console: Any = None, **summary_kwargs: Any) -> None:
    """Print the summary and the family tables with rich."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # logs and pipes: wide enough that nothing is cut
            console = Console(width=max(console.width, 140))
    rows = report.summary(**summary_kwargs)
    several = len(report.groups) > 1
    env = report.metadata.get("env", {}).get("id", "?")
    n_episodes = report.returns.shape[2]
    runs = len(report.runs)
    nonfinite = any(row["nonfinite_observations"] for row in rows)
    notes = list(dict.fromkeys(row["normalised_note"] for row in rows if row["normalised_note"]))
    caption = [
        "normalised = (IQM - reference) / (clean IQM - reference); " + report.reference.describe(),
        *(f"normalised: {note}" for note in notes),
    ]
    if nonfinite:
        caption.append("non-finite obs: observations with NaN or inf the policy acted on")
    table = Table(
        title=f"Robustness on {env}: {runs} run(s) x {n_episodes} episodes per condition",
        caption="\n".join(caption),
        caption_justify="left",
    )
    if several:
        table.add_column("model", no_wrap=True)
    table.add_column("condition", no_wrap=True)
    names = ["IQM [95% CI]", "mean ± std", "IQM - clean [95% CI]", "normalised [95% CI]"]
    for name in names + (["non-finite obs"] if nonfinite else []):
        table.add_column(name, justify="right", no_wrap=True)
    for row in rows:
        cells = [
            row["condition"],
            _interval(row["iqm"], row["iqm_ci"]),
            f"{_fmt(row['mean'])} ± {_fmt(row['std'])}",
            _interval(row["iqm_diff_to_clean"], row["iqm_diff_to_clean_ci"]),
            _interval(row["iqm_normalised"], row["iqm_normalised_ci"]),
        ]
        if nonfinite:
            cells.append(str(row["nonfinite_observations"]))
        table.add_row(*([row["group"], *cells] if several else cells))
    console.print(table)
    families = report.families(**summary_kwargs)
    if not families:
        return
    grid = Table(title="Per family: average and worst IQM, area under the normalised curve")
    if several:
        grid.add_column("model", no_wrap=True)
    grid.add_column("family", no_wrap=True)
    for name in ("n", "average IQM", "worst IQM", "worst at", "AUC normalised"):
        grid.add_column(name, justify="left" if name == "worst at" else "right", no_wrap=True)
    for entry in families:
        cells = [
            entry["condition_group"],
            str(entry["n_conditions"]),
            _fmt(entry["iqm_average"]),
            _fmt(entry["iqm_worst"]),
            entry["worst_condition"],
            _fmt(entry["auc_normalised"], 2),
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


def _reference_line(ax: Any, report: RobustnessReport) -> None:
    """The reference score as a dashed line: where the normalised score is 0."""
    reference = report.reference
    if reference.score is not None and np.isfinite(reference.score):
        label = "random policy" if reference.kind == "uniform_random" else "reference"
        ax.axhline(reference.score, color="0.5", linestyle="--", linewidth=1, label=label)


def plot_curves(report: RobustnessReport, path: str | Path, **summary_kwargs: Any) -> Path | None:
    """Robustness curves (IQM return vs level, 95% CI bands); ``None`` when there are none."""
    curves = report.curves(**summary_kwargs)
    families = list(dict.fromkeys(name for per in curves.values() for name in per))
    if not families:
        return None
    plt = _pyplot()
    columns = min(3, len(families))
    rows = -(-len(families) // columns)
    figure, axes = plt.subplots(  # one return scale across panels: families compare at a glance
        rows, columns, figsize=(4.2 * columns, 3.3 * rows + 0.4), squeeze=False, sharey=True
    )
    for ax, family in zip(axes.flat, families, strict=False):
        for group, per in curves.items():
            points = per.get(family)
            if not points:
                continue
            levels = [p["level"] for p in points]
            (line,) = ax.plot(levels, [p["iqm"] for p in points], marker="o", label=group)
            low, high = zip(*(p["iqm_ci"] for p in points), strict=True)
            ax.fill_between(levels, low, high, alpha=0.2, color=line.get_color())
        _reference_line(ax, report)
        ax.set_title(family)
        ax.set_xlabel(_level_label(family))
        ax.set_ylabel("IQM return")
        ax.yaxis.set_tick_params(labelleft=True)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(families) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    env = report.metadata.get("env", {}).get("id", "")
    _title(figure, f"{env} robustness curves: IQM return, 95% bootstrap CI", 4.2 * columns)
    return _save(plt, figure, path)


def plot_bars(report: RobustnessReport, path: str | Path, **summary_kwargs: Any) -> Path | None:
    """IQM with 95% CI per condition without a level (and clean); ``None`` if there are none.

    Dots with error bars rather than bars: returns can be negative, and a bar
    hanging from 0 reads as a size that means nothing.
    """
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
    width = 0.6 / len(groups)
    figure_width = max(5.0, 0.9 * len(names) + 2)
    figure, ax = plt.subplots(figsize=(figure_width, 4.0))
    x = np.arange(len(names))
    for g, group in enumerate(groups):
        lookup = {r["condition"]: r for r in rows if r["group"] == group}
        centre = np.array([lookup[n]["iqm"] for n in names])
        low = np.array([lookup[n]["iqm_ci"][0] for n in names])
        high = np.array([lookup[n]["iqm_ci"][1] for n in names])
        errors = np.vstack([centre - low, high - centre])
        ax.errorbar(x + (g - (len(groups) - 1) / 2) * width, centre, yerr=errors, fmt="o",
                    capsize=4, label=group)  # fmt: skip
    _reference_line(ax, report)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=30, ha="right", fontsize="small")
    ax.set_xlim(-0.5, len(names) - 0.5)
    ax.set_ylabel("IQM return")
    ax.grid(axis="y", alpha=0.3)
    if len(groups) > 1 or report.reference.score is not None:
        ax.legend(fontsize="small")
    env = report.metadata.get("env", {}).get("id", "")
    _title(figure, f"{env} per condition: IQM return, 95% bootstrap CI", figure_width)
    return _save(plt, figure, path)


def _title(figure: Any, text: str, width_inches: float) -> None:
    """A figure title wrapped to the figure's width (a long one is never cut)."""
    characters = max(20, int(width_inches * 9))  # about 9 characters per inch at 'large'
    figure.suptitle("\n".join(textwrap.wrap(text, characters)))


def _save(plt: Any, figure: Any, path: str | Path) -> Path:
    """Lay ``figure`` out, write it to ``path`` (PNG at 110 dpi) and free it."""
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
