"""Experiment configs: YAML -> typed objects, validated in full when the config loads.

A config names an algorithm, an environment (id, make kwargs, vector-env kind,
normalisation, wrappers), a policy with its kwargs (noise specs included),
callbacks, a step budget, seeds, a device, an output directory and an
evaluation grid. :class:`ExperimentConfig` is a pydantic dataclass: every key
is checked on load, every error is one line naming the key path and the value
(``policy_kwargs.param_noise.scale must be a number, got 'abc'``), and nothing
is trained until the whole config is valid. The pieces live in their own
modules: YAML reading (:mod:`~rlnoise.runs.yaml_loader`) and classes by
dotted path (:mod:`~rlnoise.runs.classes`), shared with the run-directory
contract that evaluation reads back, then the field types
(:mod:`~rlnoise.experiments.fields`), the options of rlnoise's components
(:mod:`~rlnoise.experiments.options`) and of SB3's
(:mod:`~rlnoise.experiments.sb3_kwargs`).

Example:
    >>> config = ExperimentConfig.from_dict({
    ...     "name": "ppo-cartpole", "algo": "PPO", "env": {"id": "CartPole-v1"},
    ...     "total_timesteps": 1e4, "seeds": [0, 1],
    ... })
    >>> config.env.n_envs, config.total_timesteps, config.policy, config.output_dir
    (1, 10000, 'MlpPolicy', 'runs/ppo-cartpole')
    >>> ExperimentConfig.from_dict({"name": "x", "algo": "PPO", "env": "CartPole-v1",
    ...                             "total_timesteps": 10, "seeds": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: seeds must be a list, e.g. [0] for one run or [0, 1, 2] for three; ...
"""

from __future__ import annotations

import copy
import re
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, PlainValidator, ValidationError
from pydantic.dataclasses import dataclass

from rlnoise.core.checks import show
from rlnoise.experiments.components import ComponentConfig, components
from rlnoise.experiments.fields import (
    PathError,
    choice,
    first_problem,
    integer,
    mapping,
    text,
    validate_with,
)
from rlnoise.experiments.policy_kwargs import check_policy
from rlnoise.experiments.sb3_kwargs import (
    build_policy_kwargs,
    check_algo_kwargs,
    check_constructor_kwargs,
)
from rlnoise.runs.classes import (
    ALLOWED_PREFIXES,
    CONTRIB_ALGORITHMS,
    SB3_ALGORITHMS,
    resolve_algorithm,
    resolve_class,
)
from rlnoise.runs.yaml_loader import load_yaml_file, load_yaml_text

__all__ = [
    "ALLOWED_PREFIXES",
    "CONTRIB_ALGORITHMS",
    "IDENTITY_EXCLUDES",
    "MAX_ENVS",
    "MAX_SEEDS",
    "MAX_TIMESTEPS",
    "SB3_ALGORITHMS",
    "ComponentConfig",
    "EnvConfig",
    "ExperimentConfig",
    "apply_overrides",
    "build_policy_kwargs",
    "load_config",
    "resolve_algorithm",
    "resolve_class",
]

VEC_ENV_KINDS = ("dummy", "subproc")
#: Sub-environments per run: SB3 steps each in Python, one call per env per step.
MAX_ENVS = 1024
#: Steps per run: 10^10 is three years at 100k steps/s.
MAX_TIMESTEPS = 10**10
#: Seeds per experiment (papers report 5 to 100).
MAX_SEEDS = 1000
#: Largest seed: SB3 seeds numpy's global generator, which takes 32-bit seeds.
MAX_SEED = 2**32 - 1
#: Config keys that do not make an experiment different (see ExperimentConfig.identity).
IDENTITY_EXCLUDES = ("seeds", "evaluation", "output_dir")

_PLAIN_NAME = re.compile(r"[\w][\w.+=@,-]*")
_STRICT = ConfigDict(extra="forbid")


def _name(value: Any) -> str:
    """A plain name: it becomes a directory (``runs/<name>``), so it cannot leave one."""
    if not isinstance(value, str) or not _PLAIN_NAME.fullmatch(value) or len(value) > 128:
        raise ValueError(
            "must be a plain name (letters, digits and _ . - + = @ , ; not starting with '.', "
            f"no '/' or '\\'; at most 128 characters), got {show(value)}"
        )
    return value


def _algo(value: Any) -> str:
    try:
        resolve_algorithm(value)
    except ValueError as error:  # its messages name the key already ("algo ...")
        raise PathError(str(error)) from None
    return str(value)


def _seeds(value: Any) -> tuple[int, ...]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(
            "must be a list, e.g. [0] for one run or [0, 1, 2] for three; a bare number "
            f"could be read as a seed or as a count of seeds, got {show(value)}"
        )
    expected = f"a non-empty list of integers in [0, {MAX_SEED}]"
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"must be {expected}, got {show(value)}")
    seed = integer(low=0, high=MAX_SEED)
    seeds = []
    for item in value:
        try:
            seeds.append(validate_with(seed, item))
        except ValueError:
            raise ValueError(f"must be {expected}, got {show(value)}") from None
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"must not repeat, got {show(value)}")
    if len(seeds) > MAX_SEEDS:
        raise ValueError(f"must hold at most {MAX_SEEDS} seeds, got {len(seeds)}")
    return tuple(seeds)


def _device(value: Any) -> str:
    """``auto`` or a device string torch understands (``cpu``, ``cuda``, ``cuda:1``...)."""
    import torch

    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {show(value)} ({type(value).__name__})")
    if value != "auto":
        try:
            torch.device(value)
        except RuntimeError:
            raise ValueError(
                f"must be 'auto' or a torch device such as 'cpu' or 'cuda', got {value!r}"
            ) from None
    return value


def _normalize(value: Any) -> bool | dict[str, Any]:
    """``true``/``false``, or VecNormalize's keyword arguments."""
    from stable_baselines3.common.vec_env import VecNormalize

    if isinstance(value, bool):
        return value
    kwargs = validate_with(mapping(), value)
    try:
        return check_constructor_kwargs("env.normalize", VecNormalize, kwargs, hidden=("venv",))
    except ValueError as error:  # its messages name the key already
        raise PathError(str(error)) from None


def _output_dir(value: Any) -> str:
    """A directory path; empty or null: ``runs/<name>``."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"must be a path, got {show(value)} ({type(value).__name__})")
    return value


def _evaluation(value: Any) -> dict[str, Any] | str | None:
    if value is None or isinstance(value, str):
        return value
    return validate_with(mapping(), value)


def _env_section(value: Any) -> Any:
    if isinstance(value, str):
        return {"id": value}  # a bare env id
    if not isinstance(value, dict | EnvConfig):
        raise ValueError(f"must be a mapping or an env id, got {show(value)}")
    if isinstance(value, dict) and "id" not in value:
        raise ValueError("needs an 'id' (a registered Gymnasium id such as CartPole-v1)")
    return value


def _validated(cls: Any, data: Any, where: str, prefix: str = "") -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping, got {show(data)}")
    for key in data:
        if not isinstance(key, str):
            raise ValueError(f"{where} keys must be strings, got {show(key)}")
    try:
        return cls(**data)
    except ValidationError as error:
        raise ValueError(first_problem(error, cls, prefix=prefix, root_name=where)) from None


def _plain(value: Any) -> Any:
    """YAML-safe copy: tuples (as SB3 needs some values) written as lists."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True, config=_STRICT)
class EnvConfig:
    """Environment section: Gymnasium id, make kwargs, vectorisation, normalisation, wrappers."""

    id: Annotated[str, text()]
    kwargs: Annotated[dict[str, Any], mapping()] = field(default_factory=dict)
    n_envs: Annotated[int, integer(low=1, high=MAX_ENVS, why="SB3 steps each env in Python")] = 1
    vec_env: Annotated[str, choice(*VEC_ENV_KINDS)] = "dummy"
    normalize: Annotated[bool | dict[str, Any], PlainValidator(_normalize)] = False
    wrappers: Annotated[
        tuple[ComponentConfig, ...], components("env.wrappers", "wrapper", supplied=("env",))
    ] = ()

    @classmethod
    def from_dict(cls, data: Any) -> EnvConfig:
        """Validate the ``env`` section (a bare string is taken as the id)."""
        try:
            data = _env_section(data)
        except ValueError as error:
            raise ValueError(f"env {error}") from None
        return _validated(cls, data, "env", prefix="env")

    def to_dict(self) -> dict[str, Any]:
        """YAML-safe form."""
        return {
            "id": self.id,
            "kwargs": _plain(self.kwargs),
            "n_envs": self.n_envs,
            "vec_env": self.vec_env,
            "normalize": _plain(self.normalize),
            "wrappers": [w.to_dict() for w in self.wrappers],
        }


@dataclass(frozen=True, config=_STRICT)
class ExperimentConfig:
    """One experiment: what to train, how long, over which seeds, and how to evaluate it.

    Attributes:
        name: Experiment name, a plain name (also the default output directory
            ``runs/<name>``).
        algo: SB3 algorithm name (``PPO``...), an sb3-contrib name, or a dotted path.
        env: The environment section (:class:`EnvConfig`).
        total_timesteps: Training budget per seed (``1e5`` is read as 100000).
        seeds: Training seeds, a list (``[0]`` for one run).
        policy: SB3 alias (``MlpPolicy``...) or dotted path to a policy class.
        policy_kwargs: Passed to the policy; ``*_fn`` / ``*_class`` values are
            dotted paths to classes of the kind the policy's constructor names.
        algo_kwargs: Passed to the algorithm's constructor.
        callbacks: Callbacks as dotted path + kwargs.
        device: ``auto``, ``cpu``, ``cuda``...
        output_dir: Where runs go (``runs/<name>`` by default).
        evaluation: Evaluation settings (a mapping, or a path to ``configs/eval/*.yaml``).
    """

    name: Annotated[str, PlainValidator(_name)]
    algo: Annotated[str, PlainValidator(_algo)]
    env: Annotated[EnvConfig, BeforeValidator(_env_section)]
    total_timesteps: Annotated[
        int, integer(low=1, high=MAX_TIMESTEPS, why="three years at 100k steps/s")
    ]
    seeds: Annotated[tuple[int, ...], PlainValidator(_seeds)]
    policy: Annotated[str, text()] = "MlpPolicy"
    policy_kwargs: Annotated[dict[str, Any], mapping()] = field(default_factory=dict)
    algo_kwargs: Annotated[dict[str, Any], mapping()] = field(default_factory=dict)
    callbacks: Annotated[tuple[ComponentConfig, ...], components("callbacks", "callback")] = ()
    device: Annotated[str, PlainValidator(_device)] = "auto"
    output_dir: Annotated[str, PlainValidator(_output_dir)] = ""
    evaluation: Annotated[dict[str, Any] | str | None, PlainValidator(_evaluation)] = None

    def __post_init__(self) -> None:
        """The checks that need several keys: policy vs algo, kwargs vs classes, grid vs env."""
        set_ = object.__setattr__  # frozen: fill in the validated forms
        algo_cls = resolve_algorithm(self.algo)
        set_(
            self,
            "policy_kwargs",
            check_policy(self.algo, algo_cls, self.policy, self.policy_kwargs),
        )
        set_(
            self,
            "algo_kwargs",
            check_algo_kwargs(self.algo, algo_cls, self.algo_kwargs, self.env.n_envs),
        )
        _check_evaluation(self.evaluation, self.env.id)
        if not self.output_dir:
            set_(self, "output_dir", f"runs/{self.name}")

    @classmethod
    def from_dict(cls, data: Any) -> ExperimentConfig:
        """Validate a whole config mapping.

        Raises:
            ValueError: One line: the first problem found (unknown key with the
                valid keys listed, missing key, wrong type or value with its key
                path, unknown algorithm or class) and how many more there are.
        """
        return _validated(cls, data, "config")

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved config, YAML-safe (what ``rlnoise train`` writes per run)."""
        return {
            "name": self.name,
            "algo": self.algo,
            "env": self.env.to_dict(),
            "total_timesteps": self.total_timesteps,
            "seeds": list(self.seeds),
            "policy": self.policy,
            "policy_kwargs": _plain(self.policy_kwargs),
            "algo_kwargs": _plain(self.algo_kwargs),
            "callbacks": [c.to_dict() for c in self.callbacks],
            "device": self.device,
            "output_dir": self.output_dir,
            "evaluation": _plain(self.evaluation),
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


def _check_evaluation(value: Any, env_id: str) -> None:
    """The ``evaluation`` entry: a grid name or YAML path that exists, or a valid grid mapping."""
    from rlnoise.evaluation.grid import build_grid, resolve_grid

    if value is None:
        return
    try:
        build_grid(resolve_grid(value) if isinstance(value, str) else value, env_id)
    except (FileNotFoundError, ValueError) as error:
        raise ValueError(f"evaluation: {error}") from None


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` overrides (values read as YAML, as in a config file).

    Example:
        >>> apply_overrides({"env": {"id": "CartPole-v1"}}, ["env.n_envs=4", "total_timesteps=1e3"])
        {'env': {'id': 'CartPole-v1', 'n_envs': 4}, 'total_timesteps': 1000.0}
    """
    if not isinstance(data, dict):
        raise ValueError(f"config must be a mapping, got {show(data)}")
    out = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--override must be key=value, got {item!r}")
        value = load_yaml_text(raw, f"--override {key}") if raw else None
        target = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = target.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"--override {key}: {part!r} is not a mapping in the config")
            target = node
        target[parts[-1]] = value
    return out


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read a YAML experiment config (:func:`load_yaml_file`) and validate it.

    Raises:
        ValueError: Malformed or refused YAML (with the line number) or an invalid config.
        FileNotFoundError: No such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    data = load_yaml_file(path)
    if isinstance(data, dict) and "sweep" in data:
        raise ValueError(
            f"{path} declares a sweep (several experiments): rlnoise train runs it; from "
            "Python, rlnoise.experiments.sweep.load_experiment reads it"
        )
    try:
        return ExperimentConfig.from_dict(apply_overrides(data or {}, overrides or []))
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None
