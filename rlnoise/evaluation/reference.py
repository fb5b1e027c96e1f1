"""The difference to clean and the normalised score of a condition, and their reference.

A ratio of raw returns reads backwards when returns are negative or offset
(Pendulum: -1707 is *worse* than -1662, yet 103% of it). A report therefore
compares every condition with clean in two ways, per model group, both on the
IQM (the statistic the tables headline):

- ``iqm_diff_to_clean = IQM(condition) - IQM(clean)``, in return units;
- ``iqm_normalised = (IQM(condition) - R_ref) / (IQM(clean) - R_ref)``: 1 is the
  group's clean score, 0 the *reference score* ``R_ref``.

``R_ref`` is, by default, the IQM of a uniformly random policy on the same
episodes: the condition ``random_action:1.0`` (every action replaced by a
uniform draw from the action space, from the evaluation's own seeded
generators) on the clean env, episode ``k`` reset with the same seed as every
other condition's episode ``k``. It can instead be a number the user gives
(``reference_score``), as Atari's human-normalised scores use published ones.

When a group's clean IQM is not above ``R_ref`` (the agent does no better than
the reference) the normalised score is undefined: it is ``None`` with the
reason in ``normalised_note``, never a huge or sign-flipped number. For
``IQM(clean) > R_ref`` a condition with a lower IQM than clean always scores
below 1.

CIs are percentile bootstraps that keep the pairing of common random numbers:
the condition, clean and the reference are resampled with the same runs and
episodes (see :func:`~rlnoise.evaluation.statistics.stratified_bootstrap`).

Example:
    >>> clean = np.array([[-160.0, -120.0, -130.0, -150.0]])
    >>> scores = NormalisedScores(clean, Reference.given(-1200.0), n_resamples=200, seed=0)
    >>> worse = clean - 40.0
    >>> row = scores.row(worse, scores.draws(worse))
    >>> row["iqm_diff_to_clean"], round(row["iqm_normalised"], 3)
    (-40.0, 0.962)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rlnoise.evaluation import statistics as st
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.perturbations import RandomActionPerturbation

__all__ = ["REFERENCE_CONDITION", "NormalisedScores", "Reference"]

#: What the default reference plays: the uniformly random policy, on the clean env.
REFERENCE_CONDITION = Condition("reference:uniform_random", (RandomActionPerturbation(1.0),))

_KINDS = ("uniform_random", "given", "unavailable")


@dataclass(frozen=True, eq=False)
class Reference:
    """The reference score ``R_ref`` of the normalised score (see the module docstring).

    Attributes:
        kind: ``"uniform_random"`` (measured), ``"given"`` (by the user) or
            ``"unavailable"`` (no random policy for the action space, or a report
            written before references existed).
        score: ``R_ref``: the IQM of ``returns``, or the given number.
        returns: The random policy's episode returns, ``(n_episodes,)``.
        lengths: Their lengths.
        note: Why the reference is unavailable.
    """

    kind: str
    score: float | None = None
    returns: np.ndarray | None = None
    lengths: np.ndarray | None = None
    note: str | None = None

    @classmethod
    def given(cls, score: float) -> Reference:
        """A reference score the user gives.

        Raises:
            ValueError: ``score`` is not a finite number.
        """
        if isinstance(score, bool) or not isinstance(score, int | float | np.number):
            raise ValueError(f"reference_score must be a number, got {score!r}")
        if not np.isfinite(score):
            raise ValueError(f"reference_score must be finite, got {score!r}")
        return cls("given", float(score))

    @classmethod
    def uniform_random(cls, returns: Any, lengths: Any) -> Reference:
        """The measured reference: the random policy's returns on the evaluation's episodes."""
        returns = np.asarray(returns, dtype=np.float64)
        score = float(st.iqm(returns[None])) if returns.size else None
        return cls("uniform_random", score, returns, np.asarray(lengths, dtype=np.int64))

    @classmethod
    def unavailable(cls, note: str) -> Reference:
        """No reference: normalised scores are ``None`` with ``note`` as the reason."""
        return cls("unavailable", note=note)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (``report.json``'s ``reference``)."""
        measured = self.kind == "uniform_random"
        return {
            "kind": self.kind,
            "statistic": "iqm" if measured else None,
            "score": self.score,
            "condition": REFERENCE_CONDITION.to_dict() if measured else None,
            "returns": None if self.returns is None else self.returns.tolist(),
            "lengths": None if self.lengths is None else self.lengths.tolist(),
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Reference:
        """Inverse of :meth:`to_dict`; ``None`` (a report without one) is unavailable."""
        if data is None:
            return cls.unavailable("the report was written without a reference score")
        kind = data["kind"]
        if kind not in _KINDS:
            raise ValueError(f"reference kind must be one of {list(_KINDS)}, got {kind!r}")
        if kind == "uniform_random":
            return cls.uniform_random(data["returns"], data["lengths"])
        if kind == "given":
            return cls.given(data["score"])
        return cls.unavailable(str(data.get("note")))

    def episode_rows(self, seed: int | None) -> list[list[Any]]:
        """The measured episodes as ``episodes.csv`` rows (none for other kinds)."""
        if self.returns is None or self.lengths is None:
            return []
        return [
            ["random-reference", "random-reference", "clean", "", "", k,
             "" if seed is None else seed + k, repr(float(value)), int(length)]
            for k, (value, length) in enumerate(zip(self.returns, self.lengths, strict=True))
        ]  # fmt: skip

    def describe(self) -> str:
        """One line saying what 0 on the normalised scale is."""
        if self.kind == "uniform_random":
            return (
                f"reference = IQM {self.score:.4g} of a uniformly random policy on the same "
                "episodes"
            )
        if self.kind == "given":
            return f"reference = {self.score:.4g} (given)"
        return f"no reference: {self.note}"


class NormalisedScores:
    """Difference to clean and normalised score for the conditions of one model group.

    Every bootstrap uses one seed, so the condition, clean and the reference
    are resampled alike (a paired bootstrap).

    Args:
        clean: The group's clean scores ``(n_runs, n_episodes)``, or ``None``
            when the grid has no clean condition.
        reference: The reference score.
        n_resamples: Bootstrap resamples.
        seed: Bootstrap seed of the group.
        confidence: Coverage of the CIs.
    """

    def __init__(
        self,
        clean: np.ndarray | None,
        reference: Reference,
        *,
        n_resamples: int = 10_000,
        seed: int = 0,
        confidence: float = 0.95,
    ):
        self.n_resamples, self.seed, self.confidence = n_resamples, seed, confidence
        self.clean: float | None = None
        self.clean_draws: np.ndarray | None = None
        self.reference: float | None = None
        self.reference_draws: Any = None
        #: Why the normalised score is undefined for the whole group (else ``None``).
        self.note: str | None = None
        if clean is None:
            self.note = "the grid has no clean condition"
            return
        self.clean = float(st.iqm(clean))
        self.clean_draws = self.draws(clean)
        if reference.score is None:
            self.note = reference.note or "no reference score"
            return
        self.reference = float(reference.score)
        self.reference_draws = self.reference
        if reference.returns is not None:  # measured on the same episodes: resampled with them
            returns = np.broadcast_to(reference.returns, clean.shape)
            self.reference_draws = st.stratified_bootstrap(
                returns, lambda s: st.iqm(s[..., :1, :]), n_resamples=n_resamples, seed=seed
            )
        if not self.clean > self.reference:
            self.note = (
                f"the clean IQM {self.clean:.4g} is not above the reference {self.reference:.4g}: "
                "the agent does no better than the reference, so the normalised score is undefined"
            )

    def draws(self, scores: np.ndarray, statistic: Any = st.iqm) -> np.ndarray:
        """Bootstrap draws of ``statistic`` (the IQM) of ``scores``, paired with clean's."""
        return st.stratified_bootstrap(
            scores, statistic, n_resamples=self.n_resamples, seed=self.seed
        )

    def row(self, scores: np.ndarray, draws: np.ndarray) -> dict[str, Any]:
        """The comparison fields of one condition.

        Args:
            scores: The condition's scores ``(n_runs, n_episodes)``.
            draws: :meth:`draws` of ``scores``.

        Returns:
            ``iqm_diff_to_clean`` and ``iqm_diff_to_clean_ci``, ``iqm_normalised``
            and ``iqm_normalised_ci`` (``None`` where undefined), and
            ``normalised_note`` (why they are ``None``, else ``None``).
        """
        out: dict[str, Any] = {
            "iqm_diff_to_clean": None,
            "iqm_diff_to_clean_ci": None,
            "iqm_normalised": None,
            "iqm_normalised_ci": None,
            "normalised_note": self.note,
        }
        if self.clean is None or self.clean_draws is None:
            return out
        value = float(st.iqm(scores))
        out["iqm_diff_to_clean"] = value - self.clean
        out["iqm_diff_to_clean_ci"] = list(
            st.percentile_ci(draws - self.clean_draws, self.confidence)
        )
        if self.note is not None or self.reference is None:
            return out
        out["iqm_normalised"] = float(st.normalised_score(value, self.clean, self.reference))
        ratios = st.normalised_score(draws, self.clean_draws, self.reference_draws)
        undefined = float(np.mean(np.isnan(ratios)))
        if undefined > 0:
            out["normalised_note"] = (
                f"no CI: in {undefined:.1%} of bootstrap resamples the clean IQM is not above "
                "the reference"
            )
        else:
            out["iqm_normalised_ci"] = list(st.percentile_ci(ratios, self.confidence))
        return out
