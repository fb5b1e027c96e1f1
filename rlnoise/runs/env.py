"""A run's environment as its config names it: a Gymnasium id, ``gym.make`` kwargs, wrappers.

The ``env`` section of a run's ``config.yaml`` lists its wrappers in RL Zoo's
form (``"pkg.Class"`` or ``{"pkg.Class": {kwargs}}``, a :class:`Component`
each). Training applies them through :class:`WrapperChain` (the
``wrapper_class`` of SB3's ``make_vec_env``); evaluation rebuilds the env of a
finished run with :func:`evaluation_env_factory`, leaving out the wrapper
classes it is told to: ``rlnoise evaluate`` leaves out rlnoise's noise
injectors (:data:`rlnoise.wrappers.NOISE_WRAPPERS`), since its conditions
decide what the test env adds, and keeps the wrappers that define the
observation (a pixel renderer, say).

Classes are resolved by dotted path through the allow-listed resolver
(:mod:`rlnoise.runs.classes`) when they are used: this module imports no
wrapper, and nothing above ``rlnoise.core``.

Example:
    >>> evaluation_env_factory({"id": "CartPole-v1"})  # nothing to add: the id itself
    'CartPole-v1'
    >>> # TimeAwareObservation appends the time to CartPole's four observation values
    >>> timed = {"id": "CartPole-v1", "wrappers": ["gymnasium.wrappers.TimeAwareObservation"]}
    >>> factory = evaluation_env_factory(timed)
    >>> factory, factory().observation_space.shape  # doctest: +ELLIPSIS
    (EvaluationEnv({'id': 'CartPole-v1', 'kwargs': {}, 'wrappers': [{...: {}}]}), (5,))
    >>> from gymnasium.wrappers import TimeAwareObservation
    >>> evaluation_env_factory(timed, leave_out=(TimeAwareObservation,))
    'CartPole-v1'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rlnoise.core.checks import show
from rlnoise.runs.classes import resolve_class

__all__ = ["ENV_KEYS", "Component", "EvaluationEnv", "WrapperChain", "evaluation_env_factory"]

#: The keys of a config's ``env`` section (``rlnoise.experiments.EnvConfig`` writes them all).
ENV_KEYS = ("id", "kwargs", "n_envs", "vec_env", "normalize", "wrappers")

_C = TypeVar("_C", bound="Component")


@dataclass(frozen=True)
class Component:
    """A class by dotted path plus its keyword arguments (a wrapper, a callback).

    Example:
        >>> Component.parse("env.wrappers[0]", "gymnasium.wrappers.RecordEpisodeStatistics",
        ...                 slot="wrapper").to_dict()
        {'gymnasium.wrappers.RecordEpisodeStatistics': {}}
        >>> Component.parse("env.wrappers[0]", {"os.system": {}}, slot="wrapper")
        ... # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: env.wrappers[0] 'os.system' is outside the allowed modules [...]
    """

    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls: type[_C], where: str, value: Any, *, slot: str) -> _C:
        """Read ``"pkg.Class"`` or ``{"pkg.Class": {kwargs}}`` found at key path ``where``.

        The class must fill ``slot`` (see :data:`rlnoise.runs.classes.SLOTS`);
        the kwargs are only checked to be a mapping of names.

        Raises:
            ValueError: One line naming ``where``: a malformed entry, or a class
                :func:`~rlnoise.runs.classes.resolve_class` refuses.
        """
        if isinstance(value, Component):
            value = value.to_dict()
        kwargs: Any
        if isinstance(value, str):
            path, kwargs = value, {}
        elif isinstance(value, dict) and len(value) == 1:
            ((path, kwargs),) = value.items()
            if kwargs is None:
                kwargs = {}
            if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
                raise ValueError(
                    f"{where} ({path}) kwargs must be a mapping of names, got {show(kwargs)}"
                )
        else:
            raise ValueError(
                f"{where} must be 'pkg.Class' or {{'pkg.Class': {{kwargs}}}}, got {show(value)}"
            )
        resolve_class(path, slot=slot, field=where)
        return cls(path, dict(kwargs))

    def resolve(self) -> type:
        """The class (through the allow-listed resolver)."""
        return resolve_class(self.path)

    def build(self, *args: Any) -> Any:
        """Instantiate with positional ``args`` (e.g. the env) and the configured kwargs."""
        return self.resolve()(*args, **self.kwargs)

    def to_dict(self) -> dict[str, Any]:
        """RL Zoo style ``{path: kwargs}``."""
        return {self.path: dict(self.kwargs)}


class WrapperChain:
    """Applies configured Gymnasium wrappers in order (picklable for SubprocVecEnv)."""

    def __init__(self, wrappers: tuple[Component, ...]):
        self.wrappers = wrappers

    def __call__(self, env: Any) -> Any:
        for wrapper in self.wrappers:
            env = wrapper.build(env)
        return env


class EvaluationEnv:
    """Makes a run's env for evaluation: its id, its make kwargs and the wrappers kept.

    Args:
        env_id: The registered Gymnasium id.
        kwargs: ``gym.make`` keyword arguments (a condition's own come on top).
        wrappers: The wrappers to apply, in order.
    """

    def __init__(
        self, env_id: str, kwargs: Mapping[str, Any], wrappers: tuple[Component, ...] = ()
    ):
        self.id = env_id
        self.kwargs = dict(kwargs)
        self.wrappers = tuple(wrappers)
        self.__name__ = env_id  # shown in reports and fingerprints

    def __call__(self, **make_kwargs: Any) -> Any:
        import gymnasium as gym

        env = gym.make(self.id, **{**self.kwargs, **make_kwargs})
        return WrapperChain(self.wrappers)(env)

    def describe(self) -> dict[str, Any]:
        """Everything that makes the env: two factories that describe alike make alike envs."""
        wrappers = [w.to_dict() for w in self.wrappers]
        return {"id": self.id, "kwargs": self.kwargs, "wrappers": wrappers}

    def __repr__(self) -> str:
        return f"EvaluationEnv({self.describe()!r})"


def _section(env: Any) -> dict[str, Any]:
    """The ``env`` section checked for what evaluation reads: id, kwargs, wrappers."""
    if isinstance(env, str):
        env = {"id": env}  # a bare id, as a config may give it
    if not isinstance(env, dict):
        raise ValueError(f"env must be a mapping or an env id, got {show(env)}")
    unknown = sorted(str(key) for key in env if key not in ENV_KEYS)
    if unknown:
        raise ValueError(f"env has unknown key(s) {unknown}; the keys are {list(ENV_KEYS)}")
    env_id = env.get("id")
    if not isinstance(env_id, str) or not env_id:
        raise ValueError(f"env.id must be a registered Gymnasium id, got {show(env_id)}")
    kwargs = env.get("kwargs") or {}
    if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
        raise ValueError(f"env.kwargs must be a mapping of names, got {show(kwargs)}")
    wrappers = env.get("wrappers") or []
    if not isinstance(wrappers, list | tuple):
        wrappers = [wrappers]  # one entry may stand without its list
    return {"id": env_id, "kwargs": kwargs, "wrappers": wrappers}


def evaluation_env_factory(env: Any, *, leave_out: tuple[type, ...] = ()) -> str | EvaluationEnv:
    """The clean env a trained run is evaluated on, from the ``env`` section of its config.

    Args:
        env: The ``env`` section of a run's ``config.yaml`` (or a bare id).
        leave_out: Wrapper classes not applied (their subclasses neither).

    Returns:
        The id itself when nothing is added to ``gym.make(id)``, else an
        :class:`EvaluationEnv`.

    Raises:
        ValueError: One line naming the key: a malformed section, or a wrapper
            class the allow-listed resolver refuses.
    """
    section = _section(env)
    wrappers = [
        Component.parse(f"env.wrappers[{i}]", item, slot="wrapper")
        for i, item in enumerate(section["wrappers"])
    ]
    kept = tuple(w for w in wrappers if not issubclass(w.resolve(), leave_out))
    if not kept and not section["kwargs"]:
        return str(section["id"])
    return EvaluationEnv(section["id"], section["kwargs"], kept)
