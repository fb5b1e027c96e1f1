"""One state-std vector for a whole evaluation, estimated once before any episode.

An attack in ``std`` units may ask for its vector instead of giving it:
``std: {estimate: pooled}`` (clean rollouts of every run, pooled) or
``std: {estimate: RUN}`` (the run named ``RUN`` only), with optional
``episodes`` (10) and ``seed`` (0). :class:`~rlnoise.evaluation.plan.EvaluationPlan`
calls :func:`resolve_state_std` right after loading the runs: each distinct
request is estimated once and written into the conditions, so every run is
attacked with the same radius and the report holds the vector used. In a
scaled-out evaluation (one worker per run) give the vector itself
(:func:`~rlnoise.attacks.budget.estimate_state_std`): a worker sees only its runs.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rlnoise.attacks.budget import estimate_state_std

__all__ = ["resolve_state_std"]


def resolve_state_std(conditions: list[Any], runs: list[Any], env: Any) -> list[Any]:
    """Replace every ``std: {estimate: ...}`` by ONE vector per request, the same for all runs.

    ``estimate: pooled`` pools the clean rollouts of every run; ``estimate: NAME``
    uses the run named ``NAME`` only. Each distinct request is estimated once
    (:func:`~rlnoise.attacks.budget.estimate_state_std`) and written into the
    conditions, so the report holds the vector that was used.

    Args:
        conditions: The evaluation's conditions.
        runs: Its runs (``name``, ``model``, ``vec_normalize``).
        env: A Gymnasium id or a callable making the env.

    Raises:
        ValueError: A run name that is not one of the runs.
    """
    if not any(getattr(p, "std_request", None) for c in conditions for p in c.perturbations):
        return conditions
    cache: dict[Any, tuple[float, ...]] = {}
    out = []
    for condition in conditions:
        changed = []
        for p in condition.perturbations:
            request = getattr(p, "std_request", None)
            if request is not None:
                key = p.std
                if key not in cache:
                    chosen = runs
                    if request["estimate"] != "pooled":
                        chosen = [r for r in runs if r.name == request["estimate"]]
                        if not chosen:
                            raise ValueError(
                                f"condition {condition.name!r}: std estimate names run "
                                f"{request['estimate']!r}; the runs are {[r.name for r in runs]}"
                            )
                    std = estimate_state_std(
                        [r.model for r in chosen], env, n_episodes=request["episodes"],
                        seed=request["seed"], normalizers=[_normalizer(r) for r in chosen],
                    )  # fmt: skip
                    cache[key] = tuple(float(v) for v in std)
                p = replace(p, std=cache[key])
            changed.append(p)
        out.append(replace(condition, perturbations=tuple(changed)))
    return out


def _normalizer(run: Any) -> Any:
    vec_normalize = getattr(run, "vec_normalize", None)
    return None if vec_normalize is None else vec_normalize.normalize_obs
