"""Limited training contexts: train on a few dynamics settings, test on unseen ones.

A *context* is a dynamics setting (:class:`~rlnoise.wrappers.dynamics.DynamicsSetting`:
env attributes and/or ``gym.make`` kwargs), as in CARL (Benjamins et al., 2021):
CartPole with pole half-lengths 0.3, 0.5 and 0.7, say. Two pieces:

- :func:`context_split` — the training contexts and the test contexts,
  checked disjoint, the test ones sorted into **interpolation** (every value
  within the range the training contexts span for that name) and
  **extrapolation** (some value outside it), the two reported apart;
- :class:`ContextSet` — a training wrapper that puts every episode in one of a
  set of contexts, in a shuffled order (each pass over the set visits every
  context once) drawn from a generator the wrapper owns, seeded from
  ``derive_seed(seed, "contexts")`` at ``reset(seed=...)``. Attributes are set
  on the env at reset (attributes named by any context go back to their
  original values first); make kwargs re-make the base env, once per distinct
  kwargs, and put it under the same wrappers.

The dynamics are applied by :mod:`rlnoise.wrappers.dynamics`, the code the
evaluation's ``dynamics`` conditions use, so a training context and a test
condition with the same values are the same env.

Example:
    >>> split = context_split(
    ...     train=[{"attributes": {"length": v}} for v in (0.3, 0.5, 0.7)],
    ...     test=[{"attributes": {"length": v}} for v in (0.4, 1.5)])
    >>> [c.label for c in split.interpolation], [c.label for c in split.extrapolation]
    (['length=0.4'], ['length=1.5'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.core import ActType, ObsType

from rlnoise.core.checks import show
from rlnoise.core.random import derive_seed
from rlnoise.wrappers.dynamics import DynamicsSetting, apply_attributes
from rlnoise.wrappers.levels import LevelShuffle

__all__ = ["ContextSet", "ContextSplit", "check_contexts", "context_split"]

ContextLike = DynamicsSetting | Mapping[str, Any]


def check_contexts(
    contexts: Sequence[ContextLike], where: str = "contexts"
) -> tuple[DynamicsSetting, ...]:
    """Dynamics settings from settings or ``{"attributes": ..., "make_kwargs": ...}`` mappings.

    Raises:
        ValueError: An empty list, a malformed entry (named by its index) or a repeated one.
    """
    if isinstance(contexts, str | Mapping) or not isinstance(contexts, Sequence) or not contexts:
        raise ValueError(f"{where} must be a non-empty list of settings, got {show(contexts)}")
    settings = tuple(DynamicsSetting.from_dict(c, f"{where}[{i}]") for i, c in enumerate(contexts))
    for i, setting in enumerate(settings):
        if not setting.attributes and not setting.make_kwargs:
            raise ValueError(f"{where}[{i}] needs attributes or make_kwargs, got neither")
        if setting in settings[:i]:
            raise ValueError(f"{where}[{i}] repeats {setting.label!r}")
    return settings


@dataclass(frozen=True)
class ContextSplit:
    """Training contexts and disjoint test contexts, by interpolation and extrapolation.

    Attributes:
        train: The training contexts.
        interpolation: Test contexts whose every numeric value lies within the
            training contexts' range for that name (and whose other values
            all occur in training).
        extrapolation: The other test contexts.
    """

    train: tuple[DynamicsSetting, ...]
    interpolation: tuple[DynamicsSetting, ...]
    extrapolation: tuple[DynamicsSetting, ...]


def _values(setting: DynamicsSetting) -> dict[str, Any]:
    values = {f"make_kwargs.{k}": v for k, v in setting.make_kwargs}
    values.update({f"attributes.{k}": v for k, v in setting.attributes})
    return values


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def context_split(train: Sequence[ContextLike], test: Sequence[ContextLike]) -> ContextSplit:
    """Check ``test`` disjoint from ``train`` and sort it into interpolation and extrapolation.

    Args:
        train: The training contexts.
        test: The test contexts.

    Raises:
        ValueError: A test context that is also a training one, or one naming a
            value no training context sets.
    """
    train_settings = check_contexts(train, "train")
    test_settings = check_contexts(test, "test")
    seen: dict[str, list[Any]] = {}
    for setting in train_settings:
        for name, value in _values(setting).items():
            seen.setdefault(name, []).append(value)
    inside: list[DynamicsSetting] = []
    outside: list[DynamicsSetting] = []
    for i, setting in enumerate(test_settings):
        if setting in train_settings:
            raise ValueError(f"test[{i}] {setting.label!r} is also a training context")
        within = True
        for name, value in _values(setting).items():
            if name not in seen:
                raise ValueError(
                    f"test[{i}] sets {name!r}, which no training context sets; "
                    f"they set {sorted(seen)}"
                )
            known = seen[name]
            if _is_number(value) and all(_is_number(v) for v in known):
                within &= min(known) <= value <= max(known)
            else:
                within &= value in known
        (inside if within else outside).append(setting)
    return ContextSplit(train_settings, tuple(inside), tuple(outside))


class ContextSet(
    gym.Wrapper[ObsType, ActType, ObsType, ActType],
    gym.utils.RecordConstructorArgs,
):
    """Puts every episode in one of a set of dynamics contexts, in a shuffled order.

    ``info["context"]`` (at reset) is the index of the episode's context.
    Contexts with ``make_kwargs`` need an env made by ``gym.make`` (its spec
    says how to make the base env again).

    Example:
        >>> import gymnasium as gym
        >>> env = ContextSet(gym.make("CartPole-v1"),
        ...                  [{"attributes": {"length": v}} for v in (0.3, 0.7)])
        >>> _, info = env.reset(seed=0)
        >>> lengths = {env.unwrapped.length, (env.reset(), env.unwrapped.length)[1]}
        >>> sorted(lengths)
        [0.3, 0.7]

    Args:
        env: The env.
        contexts: Dynamics settings or ``{"attributes": {...}, "make_kwargs": {...}}``
            mappings (e.g. the ``train`` of a :func:`context_split`).

    Raises:
        ValueError: As :func:`check_contexts`; an attribute the env does not
            have; make kwargs for an env without a spec, or that change its spaces.
    """

    def __init__(self, env: gym.Env[ObsType, ActType], contexts: Sequence[ContextLike]):
        self.contexts = check_contexts(contexts)
        gym.utils.RecordConstructorArgs.__init__(
            self, contexts=[c.to_dict() for c in self.contexts]
        )
        gym.Wrapper.__init__(self, env)
        base = env.unwrapped
        names = sorted({k for c in self.contexts for k, _ in c.attributes})
        self._defaults = {name: getattr(base, name, None) for name in names}
        for i, context in enumerate(self.contexts):  # every context checked before training
            try:
                apply_attributes(env, context.attribute_dict)
            except ValueError as error:
                raise ValueError(f"contexts[{i}]: {error}") from None
        apply_attributes(env, self._defaults)
        self._bases: dict[Any, gym.Env] = {(): base}
        if any(c.make_kwargs for c in self.contexts) and base.spec is None:
            raise ValueError(
                "contexts with make_kwargs need an env made by gym.make (its spec re-makes it)"
            )
        self.order = LevelShuffle(range(len(self.contexts)), None)
        self.context: DynamicsSetting | None = None

    def _base_for(self, context: DynamicsSetting) -> gym.Env:
        base = self._bases.get(context.make_kwargs)
        if base is None:
            spec = self.env.unwrapped.spec
            assert spec is not None
            made = gym.make(spec.id, **{**spec.kwargs, **context.make_kwargs_dict})
            base = made.unwrapped
            current = self.env.unwrapped
            if (
                base.observation_space != current.observation_space
                or base.action_space != current.action_space
            ):
                raise ValueError(
                    f"context {context.label!r} changes the env's spaces; a ContextSet's "
                    "contexts must share them"
                )
            self._bases[context.make_kwargs] = base
        return base

    def _swap_base(self, base: gym.Env) -> None:
        if self.env.unwrapped is base:
            return
        holder: Any = self
        while isinstance(holder.env, gym.Wrapper):
            holder = holder.env
        holder.env = base

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env in the next context; a seed restarts the context sequence."""
        if seed is not None:
            self.order.reseed(derive_seed(seed, "contexts"))
        index = self.order.next()
        context = self.contexts[index]
        self._swap_base(self._base_for(context))
        apply_attributes(self.env, {**self._defaults, **context.attribute_dict})
        self.context = context
        obs, info = self.env.reset(seed=seed, options=options)
        info["context"] = index
        return obs, info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env (the context changes only at reset)."""
        return self.env.step(action)

    def close(self) -> None:
        """Close the env and every base env made for a context."""
        current = self.env.unwrapped
        for base in self._bases.values():
            if base is not current:
                base.close()
        super().close()
