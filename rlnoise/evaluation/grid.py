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

Each perturbation key belongs to a perturbation type, which expands it
(:mod:`rlnoise.evaluation.perturbations`): a type registered by other code
brings its own keys.

Example:
    >>> conditions = build_grid({"gaussian": [0.0, 0.1], "fgsm": [0.05]})
    >>> [c.name for c in conditions]
    ['clean', 'obs:gaussian:0', 'obs:gaussian:0.1', 'fgsm:0.05']
    >>> conditions[2].group, conditions[2].level
    ('obs:gaussian', 0.1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlnoise.core.checks import show
from rlnoise.core.kinds import KINDS
from rlnoise.evaluation.conditions import Condition, as_condition
from rlnoise.evaluation.perturbations import GRID_KEYS as _PERTURBATION_KEYS
from rlnoise.evaluation.perturbations import ObservationNoisePerturbation

__all__ = ["GRID_KEYS", "PACKAGED_GRIDS", "build_grid", "grid_keys", "load_grid", "resolve_grid"]


def grid_keys() -> tuple[str, ...]:
    """The keys of a grid mapping now (perturbation types registered later add theirs).

    Besides them, every noise kind is a key (shorthand for observation noise).
    """
    return ("clean", *(key for key in _PERTURBATION_KEYS if key not in KINDS), "conditions")


#: The keys of a grid mapping with the built-in perturbation types.
GRID_KEYS = grid_keys()


def build_grid(grid: Mapping[str, Any] | str | Path, env_id: str | None = None) -> list[Condition]:
    """Expand a grid mapping (or a YAML file) into a list of conditions.

    Each key other than ``clean`` and ``conditions`` belongs to one
    perturbation type, which expands its levels
    (:meth:`~rlnoise.evaluation.perturbations.base.Perturbation.from_grid`).

    Args:
        grid: The mapping, or the path of a YAML file holding it, or the name
            of a grid shipped with rlnoise (see :func:`load_grid`).
        env_id: The env being evaluated; ``dynamics`` entries naming another
            ``env`` are skipped.

    Returns:
        Conditions in grid order, clean first (unless ``clean: false``), then
        the bare noise kinds, then the other keys in the order they are written.

    Raises:
        ValueError: Unknown key (the known ones are listed), bad level, or two
            conditions with the same name.
    """
    if isinstance(grid, str | Path):
        grid = load_grid(grid)
    if not isinstance(grid, Mapping):
        raise ValueError(f"a grid must be a mapping, got {show(grid)}")
    known = grid_keys()
    for key in grid:
        if key not in known and key not in KINDS:
            raise ValueError(
                f"unknown grid key {show(key)}; known keys are {list(known)} "
                f"and the noise kinds {sorted(KINDS)}"
            )
    conditions: list[Condition] = []
    clean = grid.get("clean", True)
    if not isinstance(clean, bool):
        raise ValueError(f"grid key 'clean' must be true or false, got {show(clean)}")
    if clean:
        conditions.append(Condition.clean())
    kinds = {k: v for k, v in grid.items() if k in KINDS}
    if kinds:  # gaussian: [...] is observation noise, named as the grid wrote it
        conditions += _conditions(ObservationNoisePerturbation.from_grid("grid", kinds, env_id))
    for key, value in grid.items():
        if key in KINDS or key == "clean":
            continue
        if key == "conditions":
            if not isinstance(value, list | tuple):
                raise ValueError(f"grid key 'conditions' must be a list, got {show(value)}")
            conditions += [as_condition(c) for c in value]
        else:
            conditions += _conditions(_PERTURBATION_KEYS[key].from_grid(key, value, env_id))
    check_unique(conditions)
    return conditions


def _conditions(items: Sequence[Any]) -> list[Condition]:
    return [Condition(p.label, (p,), group, level) for p, group, level in items]


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
