"""The ``policy`` of a config and its ``policy_kwargs``: rlnoise's noise keywords and SB3's.

The policy is an alias of the algorithm (``MlpPolicy``...) or a dotted path to
a policy class the algorithm can use. A noisy policy's noise keywords are
checked by :class:`~rlnoise.experiments.options.NoisyPolicyOptions`; every
other keyword belongs to SB3 and is checked against its constructor
(:func:`~rlnoise.experiments.sb3_kwargs.check_policy_kwargs`).

Example:
    >>> from stable_baselines3 import SAC
    >>> check_policy("SAC", SAC, "rlnoise.policies.NoisySACPolicy",
    ...              {"param_noise": {"kind": "gaussian", "scale": "abc"}})
    Traceback (most recent call last):
    ...
    ValueError: policy_kwargs.param_noise.scale must be a number, got 'abc'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from rlnoise.experiments.fields import first_problem
from rlnoise.experiments.options import NoisyPolicyOptions
from rlnoise.experiments.sb3_kwargs import check_policy_kwargs
from rlnoise.runs.classes import resolve_class

__all__ = ["check_policy", "resolve_policy"]


def resolve_policy(algo: str, algo_cls: type, policy: str) -> type | None:
    """The policy class ``policy`` names for ``algo_cls`` (``None``: an alias SB3 resolves)."""
    aliases = getattr(algo_cls, "policy_aliases", None) or {}
    if "." not in policy:
        if aliases and policy not in aliases:
            raise ValueError(
                f"policy must be one of {sorted(aliases)} for {algo} or a dotted path, "
                f"got {policy!r}"
            )
        found = aliases.get(policy)
        return found if isinstance(found, type) else None
    policy_cls = resolve_class(policy, slot="policy", field="policy")
    base = aliases.get("MlpPolicy")  # the policy family the algorithm builds on
    if isinstance(base, type) and not issubclass(policy_cls, base):
        raise ValueError(
            f"policy {policy!r} cannot serve {algo}: {algo}'s policies derive from "
            f"{base.__module__}.{base.__qualname__}"
        )
    return policy_cls


def check_policy(
    algo: str, algo_cls: type, policy: str, kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """Check ``policy`` and ``kwargs``; return the kwargs as SB3 will receive them."""
    policy_cls = resolve_policy(algo, algo_cls, policy)
    if policy_cls is None:
        return dict(kwargs)
    from rlnoise.policies import NoisyPolicyMixin

    noise_keys: tuple[str, ...] = ()
    if issubclass(policy_cls, NoisyPolicyMixin):
        noise_keys = tuple(NoisyPolicyOptions.model_fields)
        given = {k: v for k, v in kwargs.items() if k in noise_keys}
        try:
            NoisyPolicyOptions.model_validate(given)
        except ValidationError as error:
            raise ValueError(
                first_problem(error, NoisyPolicyOptions, prefix="policy_kwargs")
            ) from None
    return check_policy_kwargs(policy_cls, kwargs, noise_keys)
