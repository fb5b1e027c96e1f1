"""``RobustnessReport``: every episode return, the statistics, and the files.

The report holds the raw results (``returns`` and ``lengths`` of shape
``(n_runs, n_conditions, n_episodes)``), the conditions, the runs and the
metadata needed to reproduce them (versions, seeds, device). Statistics are
computed from those on demand (:meth:`RobustnessReport.summary`), per model
group and condition, with rliable's aggregates and bootstrap CIs, and each
condition's difference to clean and normalised score
(:mod:`rlnoise.evaluation.reference`).

Example:
    >>> import numpy as np
    >>> from rlnoise.evaluation.conditions import Condition, ObservationNoise
    >>> noisy = Condition("g", (ObservationNoise("gaussian:0.1"),), "obs:gaussian", 0.1)
    >>> conditions = (Condition.clean(), noisy)
    >>> report = RobustnessReport(
    ...     returns=np.array([[[10.0, 12.0], [5.0, 7.0]]]),
    ...     lengths=np.array([[[10, 12], [5, 7]]]),
    ...     conditions=conditions,
    ...     runs=({"name": "a", "group": "ppo"},),
    ...     metadata={},
    ...     reference=Reference.given(0.0),
    ... )
    >>> [(row["iqm_diff_to_clean"], row["iqm_normalised"]) for row in report.summary()]
    [(0.0, 1.0), (-5.0, 0.5454545454545454)]
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlnoise.core.random import derive_seed
from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.reference import NormalisedScores, Reference
from rlnoise.runs.files import atomic_path, write_text

__all__ = [
    "REPORT_FORMAT",
    "RobustnessReport",
    "check_report_directory",
    "evaluation_identity",
    "report_identity",
]

REPORT_FORMAT = "rlnoise.robustness_report/1"


def evaluation_identity(
    *,
    env: str,
    conditions: list[str],
    runs: list[tuple[str, str]],
    n_episodes: int,
    seed: int,
    max_steps: int | None,
) -> dict[str, Any]:
    """What makes two reports the same evaluation: env, condition names, runs, episodes.

    Args:
        env: The env's name (its id, or the factory's name).
        conditions: Condition names in column order.
        runs: ``(model group, weights digest)`` per run, in row order.
        n_episodes: Episodes per (run, condition).
        seed: Episode reset seed base.
        max_steps: Step cap per episode.
    """
    return {
        "env": env,
        "conditions": list(conditions),
        "runs": [[group, digest] for group, digest in runs],
        "n_episodes": n_episodes,
        "seed": seed,
        "max_steps": max_steps,
    }


def report_identity(data: Any) -> dict[str, Any] | None:
    """:func:`evaluation_identity` of a loaded ``report.json`` (``None`` if it is not a report)."""
    try:
        if data.get("format") != REPORT_FORMAT:
            return None
        metadata = data["metadata"]
        return evaluation_identity(
            env=metadata["env"]["id"],
            conditions=[c["name"] for c in data["conditions"]],
            runs=[(r.get("group", "model"), r.get("digest")) for r in data["runs"]],
            n_episodes=metadata["n_episodes"],
            seed=metadata["seed"],
            max_steps=metadata["max_steps"],
        )
    except (AttributeError, KeyError, TypeError):
        return None


def check_report_directory(directory: str | Path, identity: dict[str, Any], flag: str) -> None:
    """Refuse to write a report into ``directory`` when it holds another evaluation's.

    The same evaluation again (a resumed or repeated run) may rewrite its own
    report; a different one would replace it, and leave plots of the old one
    beside the new files.

    Args:
        directory: Where the report would be written.
        identity: :func:`evaluation_identity` of the evaluation about to run.
        flag: How the user named the directory (``--out``), for the message.

    Raises:
        ValueError: ``directory`` is an existing file.
        FileExistsError: It holds a ``report.json`` of a different evaluation,
            or JSON that is not an rlnoise report (a ``report.json`` that is not
            JSON at all, e.g. cut short, is reported and rebuilt instead).
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{flag} {directory} is a file, not a directory")
    path = directory / "report.json"
    if not path.exists():
        return
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        # Cut short or garbled: nothing in it can be lost, and the finished cells (which
        # carry their own fingerprints) are what the report is rebuilt from.
        print(
            f"{flag} {directory}: report.json cannot be read (cut short or garbled); "
            "it is rebuilt from the finished cells",
            file=sys.stderr,
        )
        return
    existing = report_identity(data)
    if existing is None:
        raise FileExistsError(
            f"{flag} {directory} holds a report.json that is not a readable rlnoise report; "
            f"choose another {flag} or move it away"
        )
    differing = [key for key in identity if existing.get(key) != identity[key]]
    if differing:
        raise FileExistsError(
            f"{flag} {directory} holds the report of a different evaluation (differs in "
            f"{differing}); choose another {flag} or move the old one away"
        )


def is_curve_group(group: str | None) -> bool:
    """Groups drawn as curves over their level (noise-like); dynamics and ungrouped go in bars."""
    return group is not None and not group.startswith("dynamics")


@dataclass
class RobustnessReport:
    """Results of :func:`~rlnoise.evaluation.runner.evaluate_robustness`.

    Attributes:
        returns: Episode returns, ``(n_runs, n_conditions, n_episodes)``.
        lengths: Episode lengths, same shape.
        conditions: The conditions, in column order.
        runs: One dict per run (``name``, ``group``, ``algo``, ``source``, ``digest``...).
        metadata: Env, seed, device, versions, resume information.
        reference: The reference score of the normalised score (default:
            unavailable, so normalised scores are ``None``).
        nonfinite_observations: Env observations with a NaN or infinite
            element per (run, condition), ``(n_runs, n_conditions)``; ``None``
            when not counted (reports written before they were).
    """

    returns: np.ndarray
    lengths: np.ndarray
    conditions: tuple[Condition, ...]
    runs: tuple[dict[str, Any], ...]
    metadata: dict[str, Any]
    reference: Reference = field(default_factory=lambda: Reference.unavailable("none was given"))
    nonfinite_observations: np.ndarray | None = None
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.returns = np.asarray(self.returns, dtype=np.float64)
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        expected = (len(self.runs), len(self.conditions))
        if self.returns.ndim != 3 or self.returns.shape[:2] != expected:
            raise ValueError(
                f"returns must have shape (n_runs, n_conditions, n_episodes) = "
                f"{(*expected, 'n')}, got {self.returns.shape}"
            )
        if self.lengths.shape != self.returns.shape:
            raise ValueError(
                f"lengths must have shape {self.returns.shape}, got {self.lengths.shape}"
            )
        counts = self.nonfinite_observations
        if counts is not None and np.shape(counts) != expected:
            raise ValueError(f"nonfinite_observations must have shape {expected}, got {counts}")
        self.nonfinite_observations = None if counts is None else np.asarray(counts, np.int64)

    # -- structure -----------------------------------------------------------------
    @property
    def groups(self) -> list[str]:
        """Model groups in order of first appearance."""
        return list(dict.fromkeys(run.get("group", "model") for run in self.runs))

    @property
    def clean_index(self) -> int | None:
        """Column of the (first) clean condition, if any."""
        return next((i for i, c in enumerate(self.conditions) if c.is_clean), None)

    def condition_index(self, name: str) -> int:
        """Column of the condition called ``name``."""
        for i, condition in enumerate(self.conditions):
            if condition.name == name:
                return i
        raise ValueError(f"no condition named {name!r}; conditions are {self.condition_names}")

    @property
    def condition_names(self) -> list[str]:
        """Names of the conditions, in column order."""
        return [c.name for c in self.conditions]

    def scores(self, group: str, condition: int | str) -> np.ndarray:
        """Returns of one model group under one condition: ``(n_runs_in_group, n_episodes)``."""
        if isinstance(condition, str):
            index = self.condition_index(condition)
        elif (
            isinstance(condition, int | np.integer)
            and not isinstance(condition, bool)
            and 0 <= condition < len(self.conditions)
        ):
            index = int(condition)
        else:
            raise ValueError(
                f"condition must be a name or an index in [0, {len(self.conditions)}), "
                f"got {condition!r}"
            )
        rows = [i for i, run in enumerate(self.runs) if run.get("group", "model") == group]
        if not rows:
            raise ValueError(f"no model group {group!r}; groups are {self.groups}")
        return self.returns[rows, index]

    # -- statistics ----------------------------------------------------------------
    def summary(
        self, *, n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0
    ) -> list[dict[str, Any]]:
        """One row per (model group, condition): aggregates, CIs, the comparison with clean.

        Keys: ``group, condition, condition_group, level, n_runs, n_episodes,
        mean, mean_ci, std, median, iqm, iqm_ci, iqm_diff_to_clean(_ci),
        iqm_normalised(_ci), normalised_note, nonfinite_observations,
        mean_length`` (comparison fields: :mod:`rlnoise.evaluation.reference`).
        CIs are percentile bootstrap intervals (see
        :func:`~rlnoise.evaluation.statistics.stratified_bootstrap`: runs
        resampled within episodes when a group has several runs, else
        episodes), seeded per (seed, group), so each condition pairs with clean.
        """
        key = ("summary", n_resamples, confidence, seed)
        if key in self._cache:
            return self._cache[key]
        rows = []
        clean, counts = self.clean_index, self.nonfinite_observations
        for group in self.groups:
            compare = NormalisedScores(
                None if clean is None else self.scores(group, clean),
                self.reference,
                n_resamples=n_resamples,
                seed=derive_seed(seed, "bootstrap", group),
                confidence=confidence,
            )
            mine = self._rows(group)
            for index, condition in enumerate(self.conditions):
                scores = self.scores(group, index)
                iqm_draws = compare.draws(scores)
                rows.append(
                    {
                        "group": group,
                        "condition": condition.name,
                        "condition_group": condition.group,
                        "level": condition.level,
                        "n_runs": int(scores.shape[0]),
                        "n_episodes": int(scores.shape[1]),
                        "mean": float(st.mean(scores)),
                        "mean_ci": list(
                            st.percentile_ci(compare.draws(scores, st.mean), confidence)
                        ),
                        "std": float(st.std(scores)),
                        "median": float(st.median(scores)),
                        "iqm": float(st.iqm(scores)),
                        "iqm_ci": list(st.percentile_ci(iqm_draws, confidence)),
                        **compare.row(scores, iqm_draws),
                        "nonfinite_observations": None
                        if counts is None
                        else int(counts[mine, index].sum()),
                        "mean_length": float(self.lengths[mine, index].mean()),
                    }
                )
        self._cache[key] = rows
        return rows

    def _rows(self, group: str) -> list[int]:
        return [i for i, run in enumerate(self.runs) if run.get("group", "model") == group]

    def curves(self, **summary_kwargs: Any) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """``{model group: {condition group: [summary rows sorted by level]}}`` for curve groups.

        The clean condition is added at level 0 to curves that lack a level-0 point.
        """
        rows = self.summary(**summary_kwargs)
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for group in self.groups:
            mine = [r for r in rows if r["group"] == group]
            clean = next(
                (r for r, c in zip(mine, self.conditions, strict=True) if c.is_clean), None
            )
            families: dict[str, list[dict[str, Any]]] = {}
            for row, condition in zip(mine, self.conditions, strict=True):
                if is_curve_group(condition.group) and condition.level is not None:
                    families.setdefault(str(condition.group), []).append(row)
            for points in families.values():
                if clean is not None and all(p["level"] != 0 for p in points):
                    points.append({**clean, "level": 0.0})
                points.sort(key=lambda r: r["level"])
            out[group] = families
        return out

    def families(self, **summary_kwargs: Any) -> list[dict[str, Any]]:
        """Per (model group, condition group): average and worst IQM, and (curves) AUC.

        Keys: ``group, condition_group, n_conditions, iqm_average, iqm_worst,
        worst_condition, auc_normalised``. ``auc_normalised`` is
        :func:`~rlnoise.evaluation.statistics.robustness_auc` of the normalised
        IQM over the curve's levels including clean at 0 (1 = as good as clean
        over the whole range); ``None`` for bar families and where the
        normalised score is undefined (see the rows' ``normalised_note``).
        """
        rows = self.summary(**summary_kwargs)
        curves = self.curves(**summary_kwargs)
        out = []
        for group in self.groups:
            mine = [
                (r, c)
                for r, c in zip(
                    [r for r in rows if r["group"] == group], self.conditions, strict=True
                )
                if c.group is not None
            ]
            names = list(dict.fromkeys(str(c.group) for _, c in mine))
            for name in names:
                members = [r for r, c in mine if c.group == name]
                values = [r["iqm"] for r in members]
                worst, worst_value = st.worst_case(values)
                entry = {
                    "group": group,
                    "condition_group": name,
                    "n_conditions": len(members),
                    "iqm_average": float(np.mean(values)),
                    "iqm_worst": worst_value,
                    "worst_condition": members[worst]["condition"],
                    "auc_normalised": None,
                }
                points = curves.get(group, {}).get(name)
                if points and all(p["iqm_normalised"] is not None for p in points):
                    entry["auc_normalised"] = st.robustness_auc(
                        [p["level"] for p in points], [p["iqm_normalised"] for p in points]
                    )
                out.append(entry)
        return out

    def probability_of_improvement(self, group_x: str, group_y: str, condition: int | str) -> float:
        """P(group X's return > group Y's) under ``condition`` (episodes as tasks)."""
        return st.probability_of_improvement(
            self.scores(group_x, condition), self.scores(group_y, condition)
        )

    # -- files ---------------------------------------------------------------------
    def to_dict(self, **summary_kwargs: Any) -> dict[str, Any]:
        """JSON-safe dict: every episode return and length, conditions, runs, metadata, summary."""
        seed = self.metadata.get("seed")
        return {
            "format": REPORT_FORMAT,
            "metadata": self.metadata,
            "runs": list(self.runs),
            "conditions": [c.to_dict() for c in self.conditions],
            "episode_reset_seeds": None
            if seed is None
            else [seed + k for k in range(self.returns.shape[2])],
            "returns": self.returns.tolist(),
            "lengths": self.lengths.tolist(),
            "nonfinite_observations": None
            if self.nonfinite_observations is None
            else self.nonfinite_observations.tolist(),
            "reference": self.reference.to_dict(),
            "summary": self.summary(**summary_kwargs),
            "families": self.families(**summary_kwargs),
        }

    def save_json(self, path: str | Path, **summary_kwargs: Any) -> Path:
        """Write :meth:`to_dict` as JSON."""
        text = json.dumps(self.to_dict(**summary_kwargs), indent=1, allow_nan=True)
        return write_text(path, text)

    @classmethod
    def load_json(cls, path: str | Path) -> RobustnessReport:
        """Read a report written by :meth:`save_json`.

        Raises:
            ValueError: Not a robustness report file.
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise ValueError(f"cannot read report {str(path)!r}: {error}") from None
        if not isinstance(data, dict) or data.get("format") != REPORT_FORMAT:
            raise ValueError(f"{str(path)!r} is not a {REPORT_FORMAT} file")
        try:
            return cls(
                returns=np.asarray(data["returns"], dtype=np.float64),
                lengths=np.asarray(data["lengths"], dtype=np.int64),
                conditions=tuple(Condition.from_dict(c) for c in data["conditions"]),
                runs=tuple(data["runs"]),
                metadata=data["metadata"],
                reference=Reference.from_dict(data.get("reference")),
                nonfinite_observations=data.get("nonfinite_observations"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"report {str(path)!r} is damaged: {error!r}") from None

    def save_csv(self, path: str | Path) -> Path:
        """One CSV row per episode: run, group, condition, level, episode, seed, return, length.

        The uniformly random reference's episodes follow, with ``run`` and
        ``group`` ``random-reference`` and condition ``clean`` (they ran on the clean env).
        """
        path = Path(path)
        seed = self.metadata.get("seed")
        with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["run", "group", "condition", "condition_group", "level", "episode",
                 "reset_seed", "return", "length"]
            )  # fmt: skip
            for r, run in enumerate(self.runs):
                for c, condition in enumerate(self.conditions):
                    for k in range(self.returns.shape[2]):
                        writer.writerow(
                            [
                                run.get("name"),
                                run.get("group", "model"),
                                condition.name,
                                condition.group or "",
                                "" if condition.level is None else condition.level,
                                k,
                                "" if seed is None else seed + k,
                                repr(float(self.returns[r, c, k])),
                                int(self.lengths[r, c, k]),
                            ]
                        )
            writer.writerows(self.reference.episode_rows(seed))
        return path

    def save_summary_csv(self, path: str | Path, **summary_kwargs: Any) -> Path:
        """One row per (model group, condition) with the statistics."""
        path = Path(path)
        rows = self.summary(**summary_kwargs)
        columns = [
            "group", "condition", "condition_group", "level", "n_runs", "n_episodes", "mean",
            "mean_ci_low", "mean_ci_high", "std", "median", "iqm", "iqm_ci_low", "iqm_ci_high",
            "iqm_diff_to_clean", "iqm_diff_to_clean_ci_low", "iqm_diff_to_clean_ci_high",
            "iqm_normalised", "iqm_normalised_ci_low", "iqm_normalised_ci_high",
            "normalised_note", "nonfinite_observations", "mean_length",
        ]  # fmt: skip
        with atomic_path(path) as temporary, open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                flat = {k: v for k, v in row.items() if not k.endswith("_ci")}
                for name in ("mean", "iqm", "iqm_diff_to_clean", "iqm_normalised"):
                    flat[f"{name}_ci_low"], flat[f"{name}_ci_high"] = row[f"{name}_ci"] or ("", "")
                writer.writerow(flat)
        return path

    def save(
        self, directory: str | Path, *, plots: bool = True, **summary_kwargs: Any
    ) -> dict[str, Path]:
        """Write ``report.json``, ``episodes.csv``, ``summary.csv`` and the PNG plots."""
        from rlnoise.evaluation import display

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "json": self.save_json(directory / "report.json", **summary_kwargs),
            "episodes_csv": self.save_csv(directory / "episodes.csv"),
            "summary_csv": self.save_summary_csv(directory / "summary.csv", **summary_kwargs),
        }
        if plots:
            for key, name, plot in [
                ("curve_png", "robustness_curve.png", display.plot_curves),
                ("bar_png", "conditions_bar.png", display.plot_bars),
            ]:
                with atomic_path(directory / name) as temporary:
                    if plot(self, temporary, **summary_kwargs) is not None:
                        paths[key] = directory / name
        return paths

    def print_table(self, console: Any = None, **summary_kwargs: Any) -> None:
        """Print the summary (and per-family worst cases) as rich tables."""
        from rlnoise.evaluation import display

        display.print_tables(self, console=console, **summary_kwargs)
