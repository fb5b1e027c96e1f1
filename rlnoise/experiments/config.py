"""Experiment configs: YAML -> typed, validated objects; classes by allow-listed dotted path.

A config names an algorithm, an environment (id, make kwargs, vector-env kind,
normalisation, wrappers), a policy with its kwargs (noise specs included),
callbacks, a step budget, seeds, a device, an output directory and an
evaluation grid. Classes are resolved by dotted path from modules under
:data:`ALLOWED_PREFIXES` — never with ``eval()``.

Example:
    >>> config = ExperimentConfig.from_dict({
    ...     "name": "ppo-cartpole", "algo": "PPO", "env": {"id": "CartPole-v1"},
    ...     "total_timesteps": 1000, "seeds": [0, 1],
    ... })
    >>> config.env.n_envs, config.policy, config.output_dir
    (1, 'MlpPolicy', 'runs/ppo-cartpole')
    >>> ExperimentConfig.from_dict({"name": "x", "algo": "PPO", "env": {"id": "CartPole-v1"},
    ...                             "total_timesteps": 10, "seeds": []})
    Traceback (most recent call last):
    ...
    ValueError: seeds must be a non-empty list of non-negative integers, got []
"""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import inspect
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rlnoise.core._checks import show

__all__ = [
    "ALLOWED_PREFIXES",
    "SB3_ALGORITHMS",
    "ComponentConfig",
    "EnvConfig",
    "ExperimentConfig",
    "apply_overrides",
    "load_config",
    "resolve_class",
]

ALLOWED_PREFIXES = ("rlnoise", "stable_baselines3", "sb3_contrib", "gymnasium", "torch.nn")
SB3_ALGORITHMS = ("A2C", "DDPG", "DQN", "PPO", "SAC", "TD3")
CONTRIB_ALGORITHMS = ("ARS", "CrossQ", "MaskablePPO", "QRDQN", "RecurrentPPO", "TQC", "TRPO")
VEC_ENV_KINDS = ("dummy", "subproc")


def resolve_class(path: str, *, field: str = "class") -> Any:
    """Import ``package.module.Name`` if it lies under an allowed prefix.

    Raises:
        ValueError: Not a dotted path, outside the allow-list, or not importable.

    Example:
        >>> resolve_class("torch.nn.ReLU").__name__
        'ReLU'
        >>> resolve_class("os.system")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: class 'os.system' is outside the allowed modules [...]
    """
    if not isinstance(path, str) or "." not in path.strip("."):
        raise ValueError(
            f"{field} must be a dotted path like 'package.module.Name', got {show(path)}"
        )
    if not any(path == p or path.startswith(p + ".") for p in ALLOWED_PREFIXES):
        raise ValueError(
            f"{field} {path!r} is outside the allowed modules {list(ALLOWED_PREFIXES)}"
        )
    module_name, _, attribute = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(
            f"{field} {path!r}: cannot import module {module_name!r} ({error})"
        ) from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"{field} {path!r}: module {module_name!r} has no {attribute!r}") from None


def resolve_algorithm(name: str) -> type:
    """An SB3 (or sb3-contrib) algorithm class from its name or dotted path."""
    if name in SB3_ALGORITHMS:
        return resolve_class(f"stable_baselines3.{name}", field="algo")
    if name in CONTRIB_ALGORITHMS:
        try:
            importlib.import_module("sb3_contrib")
        except ImportError:
            raise ValueError(f"algo {name!r} needs sb3-contrib: pip install sb3-contrib") from None
        return resolve_class(f"sb3_contrib.{name}", field="algo")
    if "." in name:
        return resolve_class(name, field="algo")
    known = [*SB3_ALGORITHMS, *CONTRIB_ALGORITHMS]
    raise ValueError(f"algo must be one of {known} or a dotted path, got {name!r}")


# -- generic field checks ---------------------------------------------------------------------
def _expect(key: str, value: Any, types: type | tuple[type, ...], expected: str) -> Any:
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ValueError(f"{key} must be {expected}, got {show(value)} (bool)")
    if not isinstance(value, types):
        raise ValueError(f"{key} must be {expected}, got {show(value)} ({type(value).__name__})")
    return value


def _mapping(key: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    _expect(key, value, dict, "a mapping")
    for name in value:
        _expect(f"{key} key", name, str, "a string")
    return dict(value)


def _check_keys(where: str, data: Mapping[str, Any], valid: list[str]) -> None:
    for key in data:
        if key not in valid:
            raise ValueError(f"unknown key {key!r} in {where}; valid keys are {sorted(valid)}")


def _check_kwargs(
    where: str, target: Any, kwargs: Mapping[str, Any], supplied: tuple[str, ...] = ()
) -> None:
    """Reject keyword arguments ``target`` does not take (unless it takes ``**kwargs``).

    ``supplied`` names arguments rlnoise passes itself (a wrapper's ``env``):
    they are not the user's to give.
    """
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):  # no introspectable signature: let the call decide
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    valid = [n for n, p in parameters.items() if p.kind in named and n not in supplied]
    _check_keys(where, kwargs, valid)


@dataclass(frozen=True)
class ComponentConfig:
    """A class by dotted path plus its keyword arguments (wrappers, callbacks)."""

    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, key: str, value: Any, supplied: tuple[str, ...] = ()) -> ComponentConfig:
        """From ``"pkg.Class"`` or ``{"pkg.Class": {kwargs}}`` (RL Zoo style).

        ``supplied`` names the arguments :meth:`build` passes positionally (a wrapper's ``env``).
        """
        if isinstance(value, str):
            resolve_class(value, field=key)
            return cls(value)
        if isinstance(value, dict) and len(value) == 1:
            ((path, kwargs),) = value.items()
            kwargs = _mapping(f"{key} ({path}) kwargs", kwargs)
            target = resolve_class(path, field=key)
            _check_kwargs(f"{key} ({path}) kwargs", target, kwargs, supplied)
            return cls(path, kwargs)
        raise ValueError(
            f"{key} must be 'pkg.Class' or {{'pkg.Class': {{kwargs}}}}, got {show(value)}"
        )

    def build(self, *args: Any) -> Any:
        """Instantiate with positional ``args`` (e.g. the env) and the configured kwargs."""
        return resolve_class(self.path)(*args, **self.kwargs)

    def to_dict(self) -> dict[str, Any]:
        """RL Zoo style ``{path: kwargs}``."""
        return {self.path: dict(self.kwargs)}


def _components(
    key: str, value: Any, supplied: tuple[str, ...] = ()
) -> tuple[ComponentConfig, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        value = [value]
    return tuple(
        ComponentConfig.parse(f"{key}[{i}]", item, supplied) for i, item in enumerate(value)
    )


@dataclass(frozen=True)
class EnvConfig:
    """Environment section: Gymnasium id, make kwargs, vectorisation, normalisation, wrappers."""

    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    n_envs: int = 1
    vec_env: str = "dummy"
    normalize: bool | dict[str, Any] = False
    wrappers: tuple[ComponentConfig, ...] = ()

    @classmethod
    def from_dict(cls, data: Any) -> EnvConfig:
        """Validate the ``env`` section (a bare string is taken as the id)."""
        if isinstance(data, str):
            data = {"id": data}
        _expect("env", data, dict, "a mapping or an env id")
        _check_keys("env", data, [f.name for f in dataclasses.fields(cls)])
        if "id" not in data:
            raise ValueError("env needs an 'id' (a registered Gymnasium id such as CartPole-v1)")
        env_id = _expect("env.id", data["id"], str, "a string")
        n_envs = _expect("env.n_envs", data.get("n_envs", 1), int, "an integer")
        if n_envs < 1:
            raise ValueError(f"env.n_envs must be >= 1, got {n_envs}")
        vec_env = data.get("vec_env", "dummy")
        if vec_env not in VEC_ENV_KINDS:
            raise ValueError(
                f"env.vec_env must be one of {list(VEC_ENV_KINDS)}, got {show(vec_env)}"
            )
        normalize = data.get("normalize", False)
        if not isinstance(normalize, bool):
            normalize = _mapping("env.normalize", normalize)
        return cls(
            id=env_id,
            kwargs=_mapping("env.kwargs", data.get("kwargs")),
            n_envs=n_envs,
            vec_env=vec_env,
            normalize=normalize,
            wrappers=_components("env.wrappers", data.get("wrappers"), supplied=("env",)),
        )

    def to_dict(self) -> dict[str, Any]:
        """YAML-safe form."""
        return {
            "id": self.id,
            "kwargs": dict(self.kwargs),
            "n_envs": self.n_envs,
            "vec_env": self.vec_env,
            "normalize": self.normalize
            if isinstance(self.normalize, bool)
            else dict(self.normalize),
            "wrappers": [w.to_dict() for w in self.wrappers],
        }


@dataclass(frozen=True)
class ExperimentConfig:
    """One experiment: what to train, how long, over which seeds, and how to evaluate it.

    Args:
        name: Experiment name (also the default output directory ``runs/<name>``).
        algo: SB3 algorithm name (``PPO``...), an sb3-contrib name, or a dotted path.
        env: The environment section (:class:`EnvConfig`).
        total_timesteps: Training budget per seed.
        seeds: Training seeds (non-empty).
        policy: SB3 alias (``MlpPolicy``...) or dotted path to a policy class.
        policy_kwargs: Passed to the policy; string values of keys ending in
            ``_fn`` or ``_class`` are resolved as dotted paths.
        algo_kwargs: Passed to the algorithm's constructor.
        callbacks: Callbacks as dotted path + kwargs.
        device: ``auto``, ``cpu``, ``cuda``...
        output_dir: Where runs go (``runs/<name>`` by default).
        evaluation: Evaluation settings (a mapping, or a path to ``configs/eval/*.yaml``).
    """

    name: str
    algo: str
    env: EnvConfig
    total_timesteps: int
    seeds: tuple[int, ...]
    policy: str = "MlpPolicy"
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    algo_kwargs: dict[str, Any] = field(default_factory=dict)
    callbacks: tuple[ComponentConfig, ...] = ()
    device: str = "auto"
    output_dir: str = ""
    evaluation: dict[str, Any] | str | None = None

    @classmethod
    def from_dict(cls, data: Any) -> ExperimentConfig:
        """Validate a whole config mapping.

        Raises:
            ValueError: Unknown key (valid keys listed), missing key, wrong type
                (key, value and expected type named), unknown algorithm or class.
        """
        _expect("config", data, dict, "a mapping")
        names = [f.name for f in dataclasses.fields(cls)]
        _check_keys("config", data, names)
        for required in ("name", "algo", "env", "total_timesteps", "seeds"):
            if required not in data:
                raise ValueError(f"config needs {required!r}; valid keys are {sorted(names)}")
        name = _expect("name", data["name"], str, "a string")
        algo = _expect("algo", data["algo"], str, "a string")
        algo_cls = resolve_algorithm(algo)
        steps = _expect("total_timesteps", data["total_timesteps"], int, "an integer")
        if steps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {steps}")
        seeds = data["seeds"]
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            seeds = [seeds]
        if (
            not isinstance(seeds, list)
            or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
        ):
            raise ValueError(
                f"seeds must be a non-empty list of non-negative integers, got {show(seeds)}"
            )
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"seeds must not repeat, got {seeds}")
        policy = _expect("policy", data.get("policy", "MlpPolicy"), str, "a string")
        policy_aliases = getattr(algo_cls, "policy_aliases", None) or {}
        if "." in policy:
            policy_cls = resolve_class(policy, field="policy")
        else:
            if policy_aliases and policy not in policy_aliases:
                raise ValueError(
                    f"policy must be one of {sorted(policy_aliases)} for {algo} or a dotted "
                    f"path, got {policy!r}"
                )
            policy_cls = policy_aliases.get(policy)
        policy_kwargs = _mapping("policy_kwargs", data.get("policy_kwargs"))
        _resolve_kwarg_classes("policy_kwargs", policy_kwargs)
        if isinstance(policy_cls, type):
            _check_policy_kwargs(policy_cls, policy_kwargs)
        env = EnvConfig.from_dict(data["env"])
        evaluation = _check_evaluation(data.get("evaluation"), env.id)
        return cls(
            name=name,
            algo=algo,
            env=env,
            total_timesteps=steps,
            seeds=tuple(seeds),
            policy=policy,
            policy_kwargs=policy_kwargs,
            algo_kwargs=_check_algo_kwargs(
                algo, algo_cls, _mapping("algo_kwargs", data.get("algo_kwargs"))
            ),
            callbacks=_components("callbacks", data.get("callbacks")),
            device=_check_device(data.get("device", "auto")),
            output_dir=_expect(
                "output_dir", data.get("output_dir") or f"runs/{name}", str, "a path"
            ),
            evaluation=evaluation,
        )

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved config, YAML-safe (what ``rlnoise train`` writes per run)."""
        return {
            "name": self.name,
            "algo": self.algo,
            "env": self.env.to_dict(),
            "total_timesteps": self.total_timesteps,
            "seeds": list(self.seeds),
            "policy": self.policy,
            "policy_kwargs": dict(self.policy_kwargs),
            "algo_kwargs": dict(self.algo_kwargs),
            "callbacks": [c.to_dict() for c in self.callbacks],
            "device": self.device,
            "output_dir": self.output_dir,
            "evaluation": self.evaluation,
        }

    def identity(self) -> dict[str, Any]:
        """What makes two configs the same experiment.

        Everything but the seeds, the evaluation and where the runs are written
        (a moved directory, or ``runs/x/`` for ``runs/x``, is the same experiment).
        """
        data = self.to_dict()
        for key in IDENTITY_EXCLUDES:
            data.pop(key)
        return data


#: Config keys that do not make an experiment different (see ExperimentConfig.identity).
IDENTITY_EXCLUDES = ("seeds", "evaluation", "output_dir")


def _check_device(value: Any) -> str:
    """``auto`` or a device string torch understands (``cpu``, ``cuda``, ``cuda:1``...)."""
    import torch

    device = _expect("device", value, str, "a string")
    if device != "auto":
        try:
            torch.device(device)
        except RuntimeError:
            raise ValueError(
                f"device must be 'auto' or a torch device such as 'cpu' or 'cuda', got {device!r}"
            ) from None
    return device


def _check_evaluation(value: Any, env_id: str) -> dict[str, Any] | str | None:
    """The ``evaluation`` entry: a grid name or YAML path that exists, or a valid grid mapping."""
    from rlnoise.evaluation.grid import build_grid

    if value is None:
        return None
    if isinstance(value, str):
        from rlnoise.evaluation.grid import resolve_grid

        try:
            build_grid(resolve_grid(value), env_id)
        except (FileNotFoundError, ValueError) as error:
            raise ValueError(f"evaluation: {error}") from None
        return value
    grid = _mapping("evaluation", value)
    try:
        build_grid(grid, env_id)
    except ValueError as error:
        raise ValueError(f"evaluation: {error}") from None
    return grid


#: Constructor arguments rlnoise sets itself from other config keys.
_SET_BY_RLNOISE = ("policy", "env", "seed", "device", "tensorboard_log", "policy_kwargs", "verbose")


def _check_algo_kwargs(algo: str, algo_cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Reject keys the algorithm's constructor does not take (listing the ones it does)."""
    parameters = inspect.signature(algo_cls.__init__).parameters  # type: ignore[misc]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return kwargs
    hidden = ("self", *_SET_BY_RLNOISE)
    valid = sorted(n for n in parameters if n not in hidden and not n.startswith("_"))
    for key, value in kwargs.items():
        if key in _SET_BY_RLNOISE:
            raise ValueError(f"algo_kwargs.{key} is set by rlnoise from the config; remove it")
        if key not in valid:
            raise ValueError(
                f"unknown key {key!r} in algo_kwargs for {algo}; valid keys are {valid}"
            )
        annotation = parameters[key].annotation
        if _value_fits(annotation, value) is False:
            raise ValueError(
                f"algo_kwargs.{key} must be {_describe(annotation)} for {algo}, got {show(value)}"
            )
    return kwargs


#: Policy constructor arguments the algorithm passes itself.
_SET_BY_ALGORITHM = ("self", "observation_space", "action_space", "lr_schedule")


def _check_policy_kwargs(policy_cls: type, kwargs: Mapping[str, Any]) -> None:
    """Reject policy_kwargs no constructor in ``policy_cls``'s chain takes, or of a wrong type.

    The keys a policy takes are those of its ``__init__`` and, while an
    ``__init__`` passes ``**kwargs`` on, those of its base classes'.
    """
    parameters: dict[str, inspect.Parameter] = {}
    for klass in policy_cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        try:
            signature = inspect.signature(vars(klass)["__init__"])
        except (TypeError, ValueError):
            return  # no introspectable signature: let the constructor decide
        open_ended = False
        for name, parameter in signature.parameters.items():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                open_ended = True
            elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL:
                parameters.setdefault(name, parameter)
        if not open_ended:
            break
        if klass is object:
            return
    else:
        return
    valid = sorted(name for name in parameters if name not in _SET_BY_ALGORITHM)
    for key, value in kwargs.items():
        if key not in valid:
            raise ValueError(
                f"unknown key {key!r} in policy_kwargs for {policy_cls.__name__}; "
                f"valid keys are {valid}"
            )
        annotation = parameters[key].annotation
        resolved_later = isinstance(value, str) and key.endswith(("_fn", "_class"))
        if not resolved_later and _value_fits(annotation, value) is False:
            raise ValueError(
                f"policy_kwargs.{key} must be {_describe(annotation)} for "
                f"{policy_cls.__name__}, got {show(value)}"
            )


def _value_fits(annotation: Any, value: Any) -> bool | None:
    """Whether a config value fits a constructor annotation; ``None`` when it cannot tell.

    Only what YAML can express is judged (numbers, booleans, strings, null,
    mappings, lists, dotted class paths); other annotations are left to the
    constructor.

    Example:
        >>> _value_fits(int, "abc"), _value_fits(float | None, 3), _value_fits(object, 1)
        (False, True, None)
    """
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        verdicts = [_value_fits(arg, value) for arg in typing.get_args(annotation)]
        if True in verdicts:
            return True
        return None if None in verdicts else False
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if getattr(annotation, "__module__", None) == "torch" and annotation.__name__ == "device":
        return isinstance(value, str) or type(value) is annotation
    if origin is type:
        return isinstance(value, str | type)  # a dotted path, resolved later
    if origin is collections.abc.Callable:
        return callable(value)
    if annotation is dict or origin is dict:
        return isinstance(value, Mapping)
    if annotation in (list, tuple) or origin in (list, tuple):
        return isinstance(value, list | tuple)
    return None


def _describe(annotation: Any) -> str:
    """A constructor annotation in words (``int``, ``float | a schedule``...)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if origin is collections.abc.Callable:
        return "a schedule (callable; not expressible in YAML)"
    if origin is type:
        return "a dotted class path"
    if origin in (list, tuple):
        return f"a list [{', '.join(_describe(arg) for arg in typing.get_args(annotation))}]"
    return getattr(annotation, "__name__", None) or str(annotation)


def _resolve_kwarg_classes(key: str, kwargs: dict[str, Any]) -> None:
    for name, value in kwargs.items():
        if isinstance(value, str) and (name.endswith("_fn") or name.endswith("_class")):
            resolve_class(value, field=f"{key}.{name}")


def build_policy_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Resolve ``*_fn`` / ``*_class`` dotted-path strings to classes."""
    return {
        name: resolve_class(value, field=f"policy_kwargs.{name}")
        if isinstance(value, str) and (name.endswith("_fn") or name.endswith("_class"))
        else value
        for name, value in kwargs.items()
    }


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values parsed as YAML) to a raw config mapping.

    Example:
        >>> apply_overrides({"env": {"id": "CartPole-v1"}}, ["env.n_envs=4", "total_timesteps=1e3"])
        {'env': {'id': 'CartPole-v1', 'n_envs': 4}, 'total_timesteps': 1000}
    """
    if not isinstance(data, dict):
        raise ValueError(f"config must be a mapping, got {show(data)}")
    out = yaml.safe_load(yaml.safe_dump(data))  # deep copy through the same YAML types
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--override must be key=value, got {item!r}")
        value = _override_value(raw)
        target = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = target.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"--override {key}: {part!r} is not a mapping in the config")
            target = node
        target[parts[-1]] = value
    return out


def _override_value(raw: str) -> Any:
    value = yaml.safe_load(raw) if raw else None
    if isinstance(value, str):
        try:  # YAML 1.1 reads "1e5" as a string; a user typing it means a number
            value = float(raw)
        except ValueError:
            return value
    if isinstance(value, float) and value.is_integer() and "e" in raw.lower():
        value = int(value)  # 1e5 means a step count, not a float
    return value


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read a YAML experiment config (``yaml.safe_load``) and validate it.

    Raises:
        ValueError: Malformed YAML (with the line number) or an invalid config.
        FileNotFoundError: No such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        raise ValueError(f"{where}: malformed YAML: {error.problem}") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: malformed YAML: {error}") from None
    try:
        return ExperimentConfig.from_dict(apply_overrides(data or {}, overrides or []))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
