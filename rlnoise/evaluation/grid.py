"""Grid builder: expand "kinds x levels" from a dict or a YAML file into conditions.

A grid is a mapping; each key is one family of conditions:

==========================  ==================================================
key                         value
==========================  ==================================================
``clean``                   ``true`` (default) adds the clean condition
a noise kind (``gaussian``  observation noise: a list of levels, or a mapping
``uniform``, ``ou`` ...)    with ``levels`` plus spec fields (``clip``,
                            ``theta``...) and ``space: raw|normalized``
``observation_noise``       ``{kind: levels-or-mapping}`` (same as above)
``action_noise``            ``{kind: levels-or-mapping}`` (Box actions)
``weight_noise``            ``{kind: levels-or-mapping}`` (one draw per episode)
``random_action``           probabilities, or ``{levels: [...]}``
``sticky_action``           probabilities, or ``{levels: [...], duration: d}``
``fgsm`` / ``pgd``          radii, or ``{levels: [...], steps, step_size,
                            random_start, space}``
``dynamics``                a mapping (or a list of them) with ``attributes``
                            and/or ``make_kwargs``: name -> list of values,
                            an optional ``env`` id it applies to, and
                            ``product: true`` for the full factorial grid
                            (default: one name changed at a time)
``conditions``              explicit :class:`~rlnoise.evaluation.conditions.Condition` dicts
==========================  ==================================================

Example:
    >>> conditions = build_grid({"gaussian": [0.0, 0.1], "fgsm": [0.05]})
    >>> [c.name for c in conditions]
    ['clean', 'obs:gaussian:0', 'obs:gaussian:0.1', 'fgsm:0.05']
    >>> conditions[2].group, conditions[2].level
    ('obs:gaussian', 0.1)
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlnoise.core.checks import check_float, check_keys, show
from rlnoise.core.kinds import KINDS
from rlnoise.core.spec import NoiseSpec
from rlnoise.evaluation.conditions import (
    ActionNoise,
    Condition,
    Dynamics,
    ObservationAttack,
    ObservationNoise,
    RandomAction,
    StickyAction,
    WeightNoise,
    as_condition,
)

__all__ = ["GRID_KEYS", "PACKAGED_GRIDS", "build_grid", "load_grid", "resolve_grid"]

GRID_KEYS = (
    "clean",
    "observation_noise",
    "action_noise",
    "weight_noise",
    "random_action",
    "sticky_action",
    "fgsm",
    "pgd",
    "dynamics",
    "conditions",
)


def _levels(where: str, value: Any) -> tuple[list[float], dict[str, Any]]:
    """Split a "levels" entry into the level list and the remaining options."""
    if isinstance(value, Mapping):
        options = dict(value)
        if "levels" not in options:
            raise ValueError(f"{where} needs 'levels: [...]', got {show(options)}")
        levels = options.pop("levels")
    else:
        levels, options = value, {}
    if isinstance(levels, int | float) and not isinstance(levels, bool):
        levels = [levels]
    if not isinstance(levels, list | tuple) or not levels:
        raise ValueError(f"{where} levels must be a non-empty list of numbers, got {show(levels)}")
    return [check_float(f"{where} level", v) for v in levels], options


def _noise_family(where: str, section: Any) -> list[tuple[str, float, NoiseSpec, dict[str, Any]]]:
    """``{kind: levels}`` -> (kind, level, spec, extra options) for each level."""
    if not isinstance(section, Mapping):
        raise ValueError(f"{where} must map noise kinds to levels, got {show(section)}")
    out = []
    for kind, value in section.items():
        if kind not in KINDS:
            raise ValueError(
                f"unknown noise kind {show(kind)} in {where}; known kinds are {sorted(KINDS)}"
            )
        levels, options = _levels(f"{where}.{kind}", value)
        extra = {k: options.pop(k) for k in ("space",) if k in options}
        for level in levels:
            try:
                spec = NoiseSpec.from_dict({"kind": kind, **options, "scale": level})
            except ValueError as error:
                raise ValueError(f"{where}.{kind} level {level:g}: {error}") from None
            out.append((kind, level, spec, extra))
    return out


def _observation(section: Any, where: str = "observation_noise") -> list[Condition]:
    conditions = []
    for _, level, spec, extra in _noise_family(where, section):
        perturbation = ObservationNoise(spec, space=extra.get("space", "raw"))
        group = perturbation.label.rsplit(":", 1)[0]
        conditions.append(Condition(perturbation.label, (perturbation,), group, level))
    return conditions


def _spec_only(
    where: str, section: Any, perturbation_type: type[ActionNoise | WeightNoise], group: str
) -> list[Condition]:
    """Conditions of a noise family whose perturbation is just its spec (action, weights)."""
    conditions = []
    for kind, level, spec, extra in _noise_family(where, section):
        if extra:
            raise ValueError(f"{where}.{kind} has no 'space' option")
        perturbation = perturbation_type(spec)
        conditions.append(Condition(perturbation.label, (perturbation,), f"{group}:{kind}", level))
    return conditions


def _random_action(section: Any) -> list[Condition]:
    levels, options = _levels("random_action", section)
    check_keys("random_action", options, [])
    out = []
    for p in levels:
        perturbation = RandomAction(p)
        out.append(Condition(perturbation.label, (perturbation,), "random_action", p))
    return out


def _sticky_action(section: Any) -> list[Condition]:
    levels, options = _levels("sticky_action", section)
    check_keys("sticky_action", options, ["duration"])
    out = []
    for p in levels:
        perturbation = StickyAction(p, **options)
        out.append(Condition(perturbation.label, (perturbation,), "sticky_action", p))
    return out


def _attack(method: str, section: Any) -> list[Condition]:
    if isinstance(section, Mapping) and "eps" in section and "levels" not in section:
        section = {**section, "levels": section["eps"]}
        del section["eps"]
    levels, options = _levels(method, section)
    check_keys(method, options, ["steps", "step_size", "random_start", "space"])
    out = []
    for eps in levels:
        perturbation = ObservationAttack(method, eps, **options)
        group = perturbation.label.rsplit(":", 1)[0]
        out.append(Condition(perturbation.label, (perturbation,), group, eps))
    return out


def _dynamics(section: Any, env_id: str | None) -> list[Condition]:
    entries = section if isinstance(section, list | tuple) else [section]
    out: list[Condition] = []
    for i, entry in enumerate(entries):
        where = f"dynamics[{i}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{where} must be a mapping, got {show(entry)}")
        check_keys(where, entry, ["env", "attributes", "make_kwargs", "product"])
        target = entry.get("env")
        if target is not None and env_id is not None and target != env_id:
            continue  # this entry describes another environment
        axes: list[tuple[str, str, list[Any]]] = []
        for field in ("attributes", "make_kwargs"):
            values = entry.get(field) or {}
            if not isinstance(values, Mapping):
                raise ValueError(f"{where}.{field} must map names to lists of values")
            for name, levels in values.items():
                if not isinstance(levels, list | tuple) or not levels:
                    raise ValueError(
                        f"{where}.{field}.{name} must be a non-empty list, got {show(levels)}"
                    )
                axes.append((field, str(name), list(levels)))
        if not axes:
            raise ValueError(f"{where} needs attributes or make_kwargs")
        if entry.get("product", False):
            for combo in itertools.product(*(levels for _, _, levels in axes)):
                chosen: dict[str, dict[str, Any]] = {"attributes": {}, "make_kwargs": {}}
                for (field, name, _), value in zip(axes, combo, strict=True):
                    chosen[field][name] = value
                perturbation = Dynamics(**chosen)
                out.append(Condition(perturbation.label, (perturbation,), "dynamics", None))
            continue
        for field, name, levels in axes:
            for value in levels:
                perturbation = Dynamics(**{field: {name: value}})
                level = float(value) if isinstance(value, int | float) else None
                out.append(
                    Condition(perturbation.label, (perturbation,), f"dynamics:{name}", level)
                )
    return out


def build_grid(grid: Mapping[str, Any] | str | Path, env_id: str | None = None) -> list[Condition]:
    """Expand a grid mapping (or a YAML file) into a list of conditions.

    Args:
        grid: The mapping, or the path of a YAML file holding it, or the name
            of a grid shipped with rlnoise (see :func:`load_grid`).
        env_id: The env being evaluated; ``dynamics`` entries naming another
            ``env`` are skipped.

    Returns:
        Conditions in grid order, clean first (unless ``clean: false``).

    Raises:
        ValueError: Unknown key (the known ones are listed), bad level, or two
            conditions with the same name.
    """
    if isinstance(grid, str | Path):
        grid = load_grid(grid)
    if not isinstance(grid, Mapping):
        raise ValueError(f"a grid must be a mapping, got {show(grid)}")
    for key in grid:
        if key not in GRID_KEYS and key not in KINDS:
            raise ValueError(
                f"unknown grid key {show(key)}; known keys are {list(GRID_KEYS)} "
                f"and the noise kinds {sorted(KINDS)}"
            )
    conditions: list[Condition] = []
    clean = grid.get("clean", True)
    if not isinstance(clean, bool):
        raise ValueError(f"grid key 'clean' must be true or false, got {show(clean)}")
    if clean:
        conditions.append(Condition.clean())
    kinds = {k: v for k, v in grid.items() if k in KINDS}
    if kinds:
        conditions += _observation(kinds, "grid")
    builders: dict[str, Any] = {
        "observation_noise": _observation,
        "action_noise": lambda s: _spec_only("action_noise", s, ActionNoise, "action"),
        "weight_noise": lambda s: _spec_only("weight_noise", s, WeightNoise, "weights"),
        "random_action": _random_action,
        "sticky_action": _sticky_action,
        "fgsm": lambda s: _attack("fgsm", s),
        "pgd": lambda s: _attack("pgd", s),
        "dynamics": lambda s: _dynamics(s, env_id),
    }
    for key, value in grid.items():
        if key in builders:
            conditions += builders[key](value)
        elif key == "conditions":
            if not isinstance(value, list | tuple):
                raise ValueError(f"grid key 'conditions' must be a list, got {show(value)}")
            conditions += [as_condition(c) for c in value]
    check_unique(conditions)
    return conditions


def check_unique(conditions: Sequence[Condition]) -> None:
    """Raise ``ValueError`` if two conditions share a name."""
    seen: set[str] = set()
    for condition in conditions:
        if condition.name in seen:
            raise ValueError(f"two conditions are named {condition.name!r}; names must be unique")
        seen.add(condition.name)


#: The named grids that ship with rlnoise (``configs/eval`` in the repository points here).
PACKAGED_GRIDS = Path(__file__).resolve().parents[1] / "configs" / "eval"


def resolve_grid(value: str) -> Path:
    """A grid YAML path, or a grid name looked up in ``./configs/eval``, then in rlnoise's own.

    A path of the form ``configs/eval/NAME.yaml`` that does not exist from the
    current directory (a config written in the repository, used elsewhere)
    names the grid ``NAME``.

    Example:
        >>> resolve_grid("quick").name
        'quick.yaml'
        >>> resolve_grid("configs/eval/default.yaml").stem
        'default'

    Raises:
        FileNotFoundError: Neither a file nor a known name (the known names are listed).
    """
    path = Path(value)
    if path.is_file():
        return path
    name = value
    if path.suffix in (".yaml", ".yml") and path.parent.parts[-2:] == ("configs", "eval"):
        name = path.stem
    folders = [Path.cwd() / "configs" / "eval", PACKAGED_GRIDS]
    for folder in folders:
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    known = sorted({p.stem for folder in folders if folder.is_dir() for p in folder.glob("*.yaml")})
    raise FileNotFoundError(f"grid {value!r} is neither a file nor one of the named grids {known}")


def load_grid(path: str | Path) -> dict[str, Any]:
    """Read a grid mapping from a YAML file, or a named grid (``default``, ``quick``...).

    A ``path`` that is not a file is looked up as ``rlnoise evaluate --grid``
    looks it up: ``./configs/eval/NAME.yaml``, then the grids shipped with rlnoise.

    Example:
        >>> "gaussian" in load_grid("quick")
        True

    Raises:
        FileNotFoundError: Neither a file nor a named grid (the names are listed).
        ValueError: The file is not a YAML mapping.
    """
    path = Path(path)
    if not path.is_file():
        path = resolve_grid(str(path))
    # Plain data only, aliases bounded ("billion laughs"), errors on one line with file:line.
    from rlnoise.runs.yaml_loader import load_yaml_file

    data = load_yaml_file(path)
    if not isinstance(data, Mapping):
        raise ValueError(f"grid file {str(path)!r} must hold a mapping, got {show(data)}")
    return dict(data)
