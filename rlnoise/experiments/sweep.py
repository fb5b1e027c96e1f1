"""Sweeps: one config, values over any of its keys, one experiment per combination.

A config may declare ``sweep``: each key a dotted path into the config, each
value the list of values it takes (or a mapping ``label: value`` that names
them). The sweep expands into every combination of the keys' values (the
last key varies fastest), and each combination is a whole experiment,
validated like any config::

    name: wn_sweep
    algo: PPO
    env: CartPole-v1
    policy: rlnoise.policies.NoisyActorCriticPolicy
    policy_kwargs: {weight_noise: {kind: gaussian, scale: 0.0}}
    total_timesteps: 50000
    seeds: [0, 1, 2]
    sweep:
      policy_kwargs.weight_noise.scale: [0.0, 0.05, 0.1]
      algo_kwargs.learning_rate: {slow: 1e-4, fast: 3e-4}

gives six experiments, ``wn_sweep.scale=0.0,learning_rate=slow`` and so on,
each in its own directory under the sweep's root (``output_dir``, by default
``runs/<name>``): ``runs/wn_sweep/scale=0.0,learning_rate=slow/seed_0/...``.
A label is ``key=value`` per swept key, joined by commas; the key is the
shortest ending of its dotted path that tells the swept keys apart, the value
is written as in YAML (characters that cannot be in a directory name become
``_``; a key whose values are lists or mappings, or would read the same,
numbers them ``v0, v1, ...``). The root holds ``sweep.yaml``
(:mod:`rlnoise.runs.discovery`), from which ``rlnoise evaluate --runs ROOT``
finds every member.

A path into a list takes an index (``env.wrappers.0``); a path whose parent
is missing creates it (as ``--override`` does). ``name`` and ``output_dir``
cannot be swept: they come from the sweep. An invalid value is reported
against its sweep key: ``sweep.policy_kwargs.weight_noise.scale = -0.1:
policy_kwargs.weight_noise.scale must be >= 0.0, got -0.1``.

Example:
    >>> sweep = expand_sweep({
    ...     "name": "lr", "algo": "PPO", "env": "CartPole-v1", "total_timesteps": 64,
    ...     "seeds": [0], "sweep": {"algo_kwargs.learning_rate": [1e-4, 3e-4]},
    ... })
    >>> sweep.labels, sweep.root
    (('learning_rate=0.0001', 'learning_rate=0.0003'), 'runs/lr')
    >>> [c.output_dir for c in sweep.configs]
    ['runs/lr/learning_rate=0.0001', 'runs/lr/learning_rate=0.0003']
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlnoise.core.checks import show
from rlnoise.experiments.config import ExperimentConfig, apply_overrides
from rlnoise.runs.contract import EXPERIMENT_FILE
from rlnoise.runs.discovery import read_sweep, write_sweep
from rlnoise.runs.lock import LOCK_FILE
from rlnoise.runs.yaml_loader import load_yaml_file

__all__ = [
    "MAX_MEMBERS",
    "SWEEP_KEY",
    "Sweep",
    "claim_sweep_root",
    "expand_sweep",
    "load_experiment",
]

#: The config key that declares a sweep.
SWEEP_KEY = "sweep"
#: Experiments one sweep may expand into.
MAX_MEMBERS = 1000
#: Keys a sweep cannot vary: they come from the sweep itself.
_FIXED = ("name", "output_dir", SWEEP_KEY)
_UNSAFE = re.compile(r"[^\w.+@-]")  # '=' and ',' separate a label's parts; '/' its directory
_PLAIN_LABEL = re.compile(r"[\w][\w.+@-]*")


@dataclass(frozen=True)
class Sweep:
    """An expanded sweep: its name, root directory, swept keys and member experiments.

    Attributes:
        name: The config's ``name``; members are ``<name>.<label>``.
        root: The sweep's directory; member ``label`` is written to ``<root>/<label>``.
        keys: The swept dotted paths, in the config's order.
        labels: Each member's label (its directory name), in expansion order.
        configs: Each member's validated config, in the same order.
    """

    name: str
    root: str
    keys: tuple[str, ...]
    labels: tuple[str, ...]
    configs: tuple[ExperimentConfig, ...]


def _value_label(value: Any) -> str | None:
    """How a scalar value reads in a label (``None``: not a scalar)."""
    if isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value) if math.isfinite(value) else str(value)
    elif isinstance(value, str) and value:
        text = value
    else:
        return None
    return _UNSAFE.sub("_", text)


def _choices(key: str, values: Any) -> list[tuple[str, Any]]:
    """``[(label, value)]`` of one swept key (its list, or its ``label: value`` mapping)."""
    where = f"sweep.{key}"
    if isinstance(values, dict):
        if not values:
            raise ValueError(f"{where} must list at least one value, got {{}}")
        for label in values:
            if not isinstance(label, str) or not _PLAIN_LABEL.fullmatch(label):
                raise ValueError(
                    f"{where} labels must be plain names (letters, digits and _ . + @ -), "
                    f"got {show(label)}"
                )
        return list(values.items())
    if not isinstance(values, list) or not values:
        raise ValueError(
            f"{where} must be a non-empty list of values or a mapping label: value, "
            f"got {show(values)}"
        )
    seen = [repr(v) for v in values]
    for i, text in enumerate(seen):
        if text in seen[:i]:
            raise ValueError(f"{where} repeats the value {show(values[i])}")
    labels = [_value_label(v) for v in values]
    if None in labels or len(set(labels)) != len(labels):
        labels = [f"v{i}" for i in range(len(values))]
    return list(zip(labels, values, strict=True))  # type: ignore[arg-type]


def _short_keys(keys: list[str]) -> dict[str, str]:
    """The shortest ending of each dotted path that no other swept path shares."""
    split = {key: key.split(".") for key in keys}
    short = {}
    for key, parts in split.items():
        for n in range(1, len(parts) + 1):
            if all(other[-n:] != parts[-n:] for k, other in split.items() if k != key):
                break
        short[key] = ".".join(parts[-n:])
    return short


def _set_path(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b]...`` for the dotted ``key`` (list indices by number)."""
    parts = key.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                held = ".".join(parts[:depth])
                raise ValueError(
                    f"sweep.{key}: {held} is a list of {len(node)}; {part!r} is not an index in it"
                )
            index: Any = int(part)
        else:
            index = part
            if not last and node.get(part) is None:
                node[part] = {}
        if last:
            node[index] = value
            return
        child = node[index]
        if not isinstance(child, dict | list):
            held = ".".join(parts[: depth + 1])
            raise ValueError(
                f"sweep.{key}: {held} is {show(child)} in the config, not a mapping; write it "
                "as a mapping to sweep one of its keys"
            )
        node = child


def _check_keys(sweep: Any) -> list[str]:
    if not isinstance(sweep, dict) or not sweep:
        raise ValueError(
            f"{SWEEP_KEY} must map at least one dotted key to its values, got {show(sweep)}"
        )
    valid = sorted(set(ExperimentConfig.__dataclass_fields__) - set(_FIXED))
    for key in sweep:
        if not isinstance(key, str) or not all(key.split(".")):
            raise ValueError(f"{SWEEP_KEY} keys must be dotted key paths, got {show(key)}")
        top = key.split(".")[0]
        if top in _FIXED:
            raise ValueError(f"sweep.{key}: {top} cannot be swept (each member gets its own)")
        if top not in valid:
            raise ValueError(f"sweep.{key}: unknown key {top!r}; valid keys are {valid}")
    return list(sweep)


def expand_sweep(data: dict[str, Any]) -> Sweep:
    """Expand a config mapping that declares ``sweep`` into validated member configs.

    Raises:
        ValueError: One line: a malformed ``sweep``, or the first member that
            does not validate, blamed on the sweep key(s) whose value the
            problem names (``sweep.<key> = <value>: <problem>``).
    """
    keys = _check_keys(data.get(SWEEP_KEY))
    base = {k: v for k, v in data.items() if k != SWEEP_KEY}
    name = base.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name is required for a sweep (a plain name), got {show(name)}")
    root = base.get("output_dir") or f"runs/{name}"
    if not isinstance(root, str):
        raise ValueError(f"output_dir must be a path, got {show(root)}")
    choices = {key: _choices(key, data[SWEEP_KEY][key]) for key in keys}
    size = math.prod(len(c) for c in choices.values())
    if size > MAX_MEMBERS:
        raise ValueError(f"{SWEEP_KEY} expands to {size} experiments; at most {MAX_MEMBERS}")
    short = _short_keys(keys)
    labels, configs = [], []
    for combination in itertools.product(*choices.values()):
        label = ",".join(f"{short[k]}={v}" for k, (v, _) in zip(keys, combination, strict=True))
        member = copy.deepcopy(base)
        for key, (_, value) in zip(keys, combination, strict=True):
            _set_path(member, key, copy.deepcopy(value))
        member.update(name=f"{name}.{label}", output_dir=str(Path(root) / label))
        try:
            configs.append(ExperimentConfig.from_dict(member))
        except ValueError as error:
            swept = dict(zip(keys, (value for _, value in combination), strict=True))
            blamed = [k for k in keys if k in str(error)] or keys
            where = ", ".join(f"sweep.{k} = {show(swept[k])}" for k in blamed)
            raise ValueError(f"{where}: {error}") from None
        labels.append(label)
    return Sweep(name, root, tuple(keys), tuple(labels), tuple(configs))


def load_experiment(
    path: str | Path, overrides: list[str] | None = None
) -> ExperimentConfig | Sweep:
    """Read a YAML config: an :class:`ExperimentConfig`, or a :class:`Sweep` if it declares one.

    ``overrides`` (``key=value``) apply before the sweep expands.

    Raises:
        ValueError: Malformed YAML or an invalid config or sweep (one line, naming the file).
        FileNotFoundError: No such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    data = load_yaml_file(path)
    try:
        data = apply_overrides(data or {}, overrides or [])
        if SWEEP_KEY in data:
            return expand_sweep(data)
        return ExperimentConfig.from_dict(data)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def claim_sweep_root(sweep: Sweep) -> None:
    """Mark ``sweep.root`` as this sweep's (``sweep.yaml``); refuse a directory that is not.

    The caller holds the root's lock. A root of the same sweep is taken over
    with the current members (values added or dropped); each member's own
    directory then refuses a different experiment, as any output directory does.

    Raises:
        FileExistsError: The root holds another sweep, an experiment, or other files.
    """
    root = Path(sweep.root)
    root.mkdir(parents=True, exist_ok=True)
    record = {"sweep": sweep.name, "keys": list(sweep.keys), "members": list(sweep.labels)}
    existing = read_sweep(root)
    if existing is not None:
        if existing.get("sweep") != sweep.name:
            raise FileExistsError(
                f"output directory {root} holds the sweep {existing.get('sweep')!r}, not "
                f"{sweep.name!r}; choose another output_dir or move the old one away"
            )
        if existing != record:
            write_sweep(root, record)
        return
    if (root / EXPERIMENT_FILE).exists():
        raise FileExistsError(
            f"output directory {root} holds an experiment, not a sweep; choose another output_dir"
        )
    if any(path.name != LOCK_FILE for path in root.iterdir()):
        raise FileExistsError(f"output directory {root} is not empty and holds no rlnoise sweep")
    write_sweep(root, record)
