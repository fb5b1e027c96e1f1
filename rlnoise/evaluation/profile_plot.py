"""Plot performance profiles with their CI bands, as rliable's ``plot_performance_profiles``.

Score on the x-axis, the fraction of runs with a score above it on the
y-axis, one line per group with its bootstrap band. Drawn on a bare
``matplotlib.figure.Figure`` (rendered by Agg for a PNG): no pyplot, so no
global backend is chosen and no figure is left open; written atomically.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from rlnoise.evaluation.profiles import performance_profiles, tau_grid
    >>> rng = np.random.default_rng(0)
    >>> scores = {"clean": rng.normal(1.0, 0.2, (5, 20)), "fgsm": rng.normal(0.5, 0.2, (5, 20))}
    >>> taus = tau_grid(scores)
    >>> profiles, bands = performance_profiles(scores, taus, n_resamples=200)
    >>> out = Path(tempfile.mkdtemp()) / "profiles.png"
    >>> plot_performance_profiles(profiles, taus, out, bands=bands) == out
    True
    >>> out.read_bytes()[:4] == b"\\x89PNG"
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rlnoise.runs.files import atomic_path

__all__ = ["plot_performance_profiles"]

# seaborn's "colorblind" palette, the one rliable draws with (its colours, without seaborn).
_COLORS = (
    "#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc",
    "#ca9161", "#fbafe4", "#949494", "#ece133", "#56b4e9",
)  # fmt: skip


def _checked(
    profiles: Mapping[str, Any], taus: Any, bands: Mapping[str, Any] | None
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    x = np.asarray(taus, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"taus must be a non-empty 1-D array, got shape {x.shape}")
    if not profiles:
        raise ValueError("profiles must hold at least one group")
    lines = {k: np.asarray(v, dtype=np.float64) for k, v in profiles.items()}
    for key, line in lines.items():
        if line.shape != x.shape:
            raise ValueError(
                f"profiles[{key!r}] must have shape {x.shape} (taus), got {line.shape}"
            )
    areas = {k: np.asarray(v, dtype=np.float64) for k, v in (bands or {}).items()}
    for key, area in areas.items():
        if key not in lines:
            raise ValueError(f"bands[{key!r}] has no profile; profiles: {list(lines)}")
        if area.shape != (2, x.size):
            raise ValueError(f"bands[{key!r}] must have shape (2, {x.size}), got {area.shape}")
    return x, lines, areas


def plot_performance_profiles(
    profiles: Mapping[str, Any],
    taus: Any,
    path: str | Path,
    *,
    bands: Mapping[str, Any] | None = None,
    xlabel: str = r"score ($\tau$)",
    ylabel: str = r"fraction of runs with score $> \tau$",
    title: str | None = None,
    colors: Mapping[str, Any] | None = None,
    alpha: float = 0.15,
    figsize: tuple[float, float] = (7.0, 4.5),
    dpi: int = 110,
) -> Path:
    """Write a performance-profile figure to ``path`` (PNG, or any format its suffix names).

    Args:
        profiles: Group name -> profile ``(n_taus,)`` (from
            :func:`~rlnoise.evaluation.profiles.performance_profiles`).
        taus: The thresholds ``(n_taus,)`` the profiles were evaluated at.
        path: The file to write (replaced atomically; its folder must exist).
        bands: Group name -> CI band ``(2, n_taus)`` (row 0 lower, row 1 upper),
            shaded around the group's line; groups without one get a line only.
        xlabel: x-axis label (e.g. "IQM-normalised return").
        ylabel: y-axis label; for average-score profiles, "fraction of tasks
            with mean score > tau".
        title: Figure title.
        colors: Group name -> matplotlib colour; default a colour-blind-safe cycle.
        alpha: Opacity of the bands.
        figsize: Figure size in inches.
        dpi: Resolution of raster output.

    Returns:
        ``path``.
    """
    from matplotlib.figure import Figure

    x, lines, areas = _checked(profiles, taus, bands)
    figure = Figure(figsize=figsize)
    ax = figure.subplots()
    for index, (key, line) in enumerate(lines.items()):
        color = (colors or {}).get(key, _COLORS[index % len(_COLORS)])
        ax.plot(x, line, color=color, linewidth=2.0, label=key)
        if key in areas:
            ax.fill_between(x, areas[key][0], areas[key][1], color=color, alpha=alpha, linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_yticks([0.0, 0.25, 0.5, 0.75, 1.0])
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.2)
    for side in ("top", "right"):  # rliable's look: open axes
        ax.spines[side].set_visible(False)
    ax.legend(fontsize="small", frameon=False)
    if title:
        ax.set_title(title)
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=dpi, format=path.suffix.lstrip(".") or "png")
    return path
