"""Everything an evaluation checks and prepares before its first episode.

:func:`~rlnoise.evaluation.runner.evaluate_robustness` (and the unit of work
:func:`~rlnoise.evaluation.runner.evaluate_cells`) turn their arguments into
runs and conditions here, copy policies to the evaluation device, match image
layouts, check every model against the env's spaces and every condition
against every model (by compiling it for one lane), and compute each cell's
*fingerprint*: everything that determines its numbers, the key of its file in
the resumable ``cells/`` store.

Example:
    >>> sorted(versions())[:2]
    ['gymnasium', 'numpy']
"""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlnoise.core.checks import show
from rlnoise.evaluation.cells import Cell
from rlnoise.evaluation.conditions import Condition, as_condition
from rlnoise.evaluation.envs import EnvMaker, channels_first_space, env_key
from rlnoise.evaluation.grid import build_grid, check_unique
from rlnoise.evaluation.models import (
    ModelRun,
    load_run,
    model_digest,
    saved_run_name,
    vec_normalize_digest,
)
from rlnoise.evaluation.policy import PolicyAdapter
from rlnoise.policies.binder import constructor_parameters

__all__ = [
    "collect_conditions",
    "collect_runs",
    "fingerprint",
    "make_adapter",
    "match_image_layout",
    "policy_copy_on",
    "validate",
    "versions",
]

ModelLike = Any  # an SB3 BaseAlgorithm, a path to its zip, or a ModelRun


def versions() -> dict[str, str]:
    """Versions of everything that shapes the numbers."""
    import stable_baselines3

    from rlnoise import __version__

    return {
        "rlnoise": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "gymnasium": gym.__version__,
        "stable_baselines3": stable_baselines3.__version__,
    }


def _as_run(item: ModelLike, group: str, index: int, algo: str | None, device: Any) -> ModelRun:
    if isinstance(item, ModelRun):
        # A copy: the runner renames runs; and a ModelRun built by hand has no digest,
        # which would let resume files of another model's weights be reused.
        return dataclasses.replace(
            item,
            digest=item.digest or model_digest(item.model),
            algo=item.algo or type(item.model).__name__,
        )
    if isinstance(item, str | Path):
        return load_run(item, group=group, algo=algo, device=device)
    if not hasattr(item, "policy") or not hasattr(item, "predict"):
        raise ValueError(
            f"models must be SB3 algorithms, paths to saved zips or ModelRun, got {show(item)}"
        )
    normalizer = None
    get_env = getattr(item, "get_vec_normalize_env", None)
    if callable(get_env):
        normalizer = get_env()
    return ModelRun(
        name=f"{group}-{index}",
        group=group,
        model=item,
        vec_normalize=normalizer,
        digest=model_digest(item),
        algo=type(item).__name__,
    )


def collect_runs(models: Any, algo: str | None, device: Any) -> list[ModelRun]:
    """Models -> runs: one model, a list (one group), or {group: model or list}."""
    groups = list(models.items()) if isinstance(models, Mapping) else [(None, models)]
    if not groups:
        raise ValueError("model_or_models is an empty mapping; give at least one model group")
    runs: list[ModelRun] = []
    for group, items in groups:
        items = list(items) if isinstance(items, list | tuple) else [items]
        if not items:
            raise ValueError(f"model group {group!r} is empty")
        name = group
        if name is None:
            first = items[0]
            name = first.group if isinstance(first, ModelRun) else None
            if name is None and not isinstance(first, str | Path):
                name = type(first).__name__
            name = name or "model"
        for index, item in enumerate(items):
            run = _as_run(item, str(name), index, algo, device)
            if isinstance(item, str | Path):
                run.name = saved_run_name(item) or run.name
            runs.append(run)
    seen: dict[str, int] = {}
    for run in runs:  # unique run names
        count = seen.get(run.name, 0)
        seen[run.name] = count + 1
        if count:
            run.name = f"{run.name}-{count}"
    return runs


def collect_conditions(conditions: Any, env_id: str | None) -> list[Condition]:
    if isinstance(conditions, Mapping) and "name" not in conditions:
        return build_grid(conditions, env_id)
    if isinstance(conditions, str | Path) and conditions != "clean":
        return build_grid(conditions, env_id)
    if isinstance(conditions, Condition | Mapping | str):
        conditions = [conditions]
    if not isinstance(conditions, Iterable):
        raise ValueError(
            "conditions must be a list of Condition (or dicts), a grid mapping or a grid "
            f"YAML path, got {show(conditions)}"
        )
    result = [as_condition(c) for c in conditions]
    if not result:
        raise ValueError("conditions must not be empty")
    check_unique(result)
    return result


def policy_copy_on(policy: Any, device: torch.device) -> Any:
    """A copy of an SB3 policy on ``device``; the caller's model is left where it is.

    Rebuilt the way SB3's ``BasePolicy.load`` does (constructor parameters, then
    the state dict): ``copy.deepcopy`` fails on a policy that still references
    autograd tensors from its last update, which every trained policy does.
    """
    clone = type(policy)(**constructor_parameters(policy))
    clone.load_state_dict(policy.state_dict())
    clone.set_training_mode(False)
    return clone.to(device)


def make_adapter(run: ModelRun, device: torch.device) -> PolicyAdapter:
    policy = run.model.policy
    if policy.device != device:
        policy = policy_copy_on(policy, device)
    return PolicyAdapter(policy, run.vec_normalize)


def match_image_layout(maker: EnvMaker, adapters: Sequence[PolicyAdapter]) -> None:
    """Hand CHW observations to policies SB3 trained on transposed HWC images."""
    probe = maker.make(None)
    transposed = channels_first_space(probe.observation_space)
    probe.close()
    if transposed is not None and all(
        accepts(adapter.observation_space, transposed) for adapter in adapters
    ):
        maker.channels_first = True


def accepts(model_space: gym.Space, env_space: gym.Space) -> bool:
    """Whether a policy trained on ``model_space`` can act on ``env_space``.

    Equal spaces, or Boxes of the same shape and dtype whose bounds contain the
    env's: a model trained behind a noise wrapper saw a widened space (e.g.
    unbounded for Gaussian observation noise) and acts on the clean one. Dict
    spaces: the same keys, each accepted by this rule.
    """
    if model_space == env_space:
        return True
    if isinstance(model_space, gym.spaces.Dict) and isinstance(env_space, gym.spaces.Dict):
        return set(model_space.spaces) == set(env_space.spaces) and all(
            accepts(sub, env_space.spaces[key]) for key, sub in model_space.spaces.items()
        )
    if isinstance(model_space, gym.spaces.Box) and isinstance(env_space, gym.spaces.Box):
        return (
            model_space.shape == env_space.shape
            and model_space.dtype == env_space.dtype
            and bool(np.all(model_space.low <= env_space.low))
            and bool(np.all(model_space.high >= env_space.high))
        )
    return False


def validate(
    maker: EnvMaker,
    runs: Sequence[ModelRun],
    adapters: Sequence[PolicyAdapter],
    conditions: Sequence[Condition],
    n_episodes: int,
    seed: int,
) -> dict[str, list[gym.Env]]:
    """Check every (run, condition) before any episode; returns one env per dynamics setting."""
    pools: dict[str, list[gym.Env]] = {}
    for condition in conditions:
        key = env_key(condition)
        if key in pools:
            continue
        env = maker.make(condition.env_change)
        pools[key] = [env]
        for run, adapter in zip(runs, adapters, strict=True):
            for what, model_space, env_space in (
                ("observation", adapter.observation_space, env.observation_space),
                ("action", adapter.action_space, env.action_space),
            ):
                if not accepts(model_space, env_space):
                    raise ValueError(
                        f"model {run.name!r} expects the {what} space {model_space}, "
                        f"but env {maker.name!r} ({condition.name}) has {env_space}"
                    )
    layouts = {None if a.layout is None else a.layout.signature for a in adapters}
    if len(layouts) > 1:  # the loop holds every run's observations in one array
        raise ValueError(
            "the models' Dict observation spaces differ in their keys' order, shapes or dtypes "
            f"({[run.name for run in runs]}); evaluate them in separate calls"
        )
    for adapter in adapters:
        for index, condition in enumerate(conditions):
            Cell(0, index, condition, adapter, n_episodes, seed, n_lanes=1)
    return pools


def fingerprint(
    run: ModelRun,
    maker: EnvMaker,
    condition: Condition,
    seed: int,
    n_episodes: int,
    max_steps: int | None,
    device: torch.device,
) -> dict[str, Any]:
    return {
        "model": run.digest,
        "vecnormalize": vec_normalize_digest(run.vec_normalize),
        "algo": run.algo,
        "env": maker.describe(),
        "perturbations": condition.to_dict()["perturbations"],
        "seed": seed,
        "n_episodes": n_episodes,
        "max_steps": max_steps,
        "device": device.type,
        "versions": {k: v for k, v in versions().items() if k != "python"},
        # Cells written before observations were checked may hide non-finite ones.
        "counts_nonfinite_observations": True,
    }
