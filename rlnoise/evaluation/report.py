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
    >>> from rlnoise.evaluation.conditions import Condition
    >>> from rlnoise.evaluation.perturbations import ObservationNoisePerturbation
    >>> noisy = Condition("g", (ObservationNoisePerturbation("gaussian:0.1"),), "obs:gaussian", 0.1)
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.identity import REPORT_FORMAT
from rlnoise.evaluation.reference import Reference
from rlnoise.evaluation.summary import condition_curves, family_rows, summary_rows
from rlnoise.runs.files import atomic_path, write_text

__all__ = ["RobustnessReport"]


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
        if key not in self._cache:
            self._cache[key] = summary_rows(
                self.returns,
                self.lengths,
                self.conditions,
                [run.get("group", "model") for run in self.runs],
                self.reference,
                self.nonfinite_observations,
                n_resamples=n_resamples,
                confidence=confidence,
                seed=seed,
            )
        return self._cache[key]

    def curves(self, **summary_kwargs: Any) -> dict[str, dict[str, list[dict[str, Any]]]]:
        """``{model group: {condition group: [summary rows sorted by level]}}`` for curve groups.

        The clean condition is added at level 0 to curves that lack a level-0 point.
        """
        return condition_curves(self.summary(**summary_kwargs), self.conditions, self.groups)

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
        return family_rows(rows, curves, self.conditions, self.groups)

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

    def save(self, directory: str | Path, **summary_kwargs: Any) -> dict[str, Path]:
        """Write ``report.json``, ``episodes.csv`` and ``summary.csv`` into ``directory``.

        The tables and the plots are :mod:`rlnoise.evaluation.display`'s:
        ``display.save_report`` writes these files and the PNGs.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        return {
            "json": self.save_json(directory / "report.json", **summary_kwargs),
            "episodes_csv": self.save_csv(directory / "episodes.csv"),
            "summary_csv": self.save_summary_csv(directory / "summary.csv", **summary_kwargs),
        }
