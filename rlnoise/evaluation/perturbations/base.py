"""The protocol every perturbation type follows: what it is, how a grid writes it, what it does.

A perturbation type is one class (see the package docstring for the recipe):

- **what it is** — a frozen dataclass deriving from :class:`Perturbation`, with
  a ``type`` name, validated fields, :meth:`~Perturbation.to_dict` /
  :meth:`~Perturbation.from_dict` and a :attr:`~Perturbation.label`;
- **how a grid writes it** — :attr:`~Perturbation.grid_keys` and
  :meth:`~Perturbation.from_grid` (a family of levels → grid items);
- **what it does** — :meth:`~Perturbation.compile`: for the lanes of one cell,
  an :class:`Injector` of one stage of the step, built on the library's own
  injectors (the wrappers' engines, :mod:`rlnoise.nn` weight noise).

The stages of a step, in the order they act (whatever order a condition
lists its perturbations in):

=========================  =====================================================
stage                      injector
=========================  =====================================================
raw observation            :class:`ObservationInjector` with ``space="raw"``
raw-space attack           :class:`AttackInjector` with ``space="raw"``
normalisation              the model's ``VecNormalize`` statistics (not a perturbation)
normalised observation     :class:`ObservationInjector` with ``space="normalized"``
normalised-space attack    :class:`AttackInjector` with ``space="normalized"``
policy                     :class:`WeightInjector`: per-lane weights for the forward
actions                    :class:`ActionInjector` s by :attr:`~ActionInjector.order`
environment                an env change (:attr:`Perturbation.env_change`), when
                           the lane's env is made
=========================  =====================================================

Randomness: every lane restarts each injector at an episode start with that
episode's own seed (:meth:`Injector.start`), derived from (evaluation seed,
condition, episode, the perturbation's position in the condition), so an
episode's perturbation never depends on the lane, the batch or what else runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from rlnoise.core.checks import check_choice, check_float, check_keys, show
from rlnoise.core.kinds import KINDS
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.wrappers.dynamics import name_value_pairs

if TYPE_CHECKING:
    import gymnasium as gym
    import torch

    from rlnoise.evaluation.policy import PolicyAdapter

__all__ = [
    "SPACES",
    "ActionInjector",
    "AttackInjector",
    "GridItem",
    "Injector",
    "Lanes",
    "ObservationInjector",
    "Perturbation",
    "WeightInjector",
    "evaluation_spec",
    "fields",
    "grid_levels",
    "noise_family",
    "plain",
    "space_name",
]

SPACES = ("raw", "normalized")
_SPACE_ALIASES = {"raw": "raw", "normalized": "normalized", "normalised": "normalized"}


# -- what a perturbation is ---------------------------------------------------------
class GridItem(NamedTuple):
    """One condition a grid family expands to: its perturbation and curve position.

    The condition's name is the perturbation's :attr:`~Perturbation.label`.
    """

    perturbation: Perturbation
    group: str | None
    level: float | None


class Perturbation:
    """Base of every perturbation type (see the module docstring).

    Class attributes a type sets:
        type: The ``type`` of its dict form (the registry's key).
        types: Every ``type`` it answers to, when several (``("fgsm", "pgd")``).
        grid_keys: Keys of a grid mapping it expands (:meth:`from_grid`).
        exclusive: Perturbations of the same non-``None`` ``exclusive`` value
            may appear at most once in a condition (``None``: any number compose).
    """

    type: ClassVar[str]
    types: ClassVar[tuple[str, ...]] = ()
    grid_keys: ClassVar[tuple[str, ...]] = ()
    exclusive: ClassVar[str | None] = None

    def to_dict(self) -> dict[str, Any]:
        """JSON/YAML-safe dict with a ``type`` key."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Perturbation:
        """Build the perturbation from its dict form (``type`` key optional)."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        """Short human label (the name of the condition a grid makes of it)."""
        raise NotImplementedError

    @classmethod
    def from_grid(cls, key: str, section: Any, env_id: str | None) -> list[GridItem]:
        """The conditions of grid entry ``key: section`` (``env_id``: the env evaluated)."""
        raise NotImplementedError(f"{cls.__name__} has no grid key")

    @property
    def env_change(self) -> Any:
        """What this perturbation changes in the env (``None``: nothing; see ``dynamics``)."""
        return None

    def compile(self, lanes: Lanes) -> Injector:
        """This perturbation for the lanes of one cell.

        Raises:
            ValueError: It does not fit the model's spaces (checked before any
                episode runs), naming ``lanes.name``.
        """
        raise NotImplementedError


# -- what a perturbation does -------------------------------------------------------
@dataclass
class Lanes:
    """What a perturbation may know when it is compiled for a cell's lanes.

    Attributes:
        name: The condition's name (error messages start with it).
        n_lanes: Lanes of the cell (episodes played at once).
        adapter: The run's policy adapter (spaces, normalisation, device, scores).
        action_space: The space actions are perturbed and drawn in (the
            policy's; the uniformly random reference draws from the env's).
        observation_dtype: The float dtype observation rows are perturbed in.
    """

    name: str
    n_lanes: int
    adapter: PolicyAdapter
    action_space: gym.Space
    observation_dtype: np.dtype

    @property
    def where(self) -> str:
        """``condition 'NAME'``, how errors start."""
        return f"condition {self.name!r}"


class Injector:
    """A perturbation compiled for the lanes of one cell (base of the stage classes)."""

    def start(self, lane: int, seed: int) -> None:
        """Lane ``lane`` starts an episode; ``seed`` is the episode's seed for this perturbation."""


class ObservationInjector(Injector):
    """Perturbs the observation rows of every lane, in numpy.

    Attributes:
        space: ``"raw"`` (before the model's normalisation) or ``"normalized"``.
    """

    space: str = "raw"

    def perturb(self, rows: np.ndarray) -> np.ndarray:
        """Rows ``(n_lanes, *shape)`` of every lane, idle ones included -> perturbed rows."""
        raise NotImplementedError


class AttackInjector(Injector):
    """Replaces the live lanes' policy inputs on the policy's device.

    Attributes:
        space: ``"raw"`` (rows are normalised after the attack) or ``"normalized"``.
    """

    space: str = "raw"

    def attack(self, obs: torch.Tensor, lanes: np.ndarray) -> torch.Tensor:
        """Policy inputs of the live ``lanes`` (in ``space``) -> attacked inputs (policy space)."""
        raise NotImplementedError


class WeightInjector(Injector):
    """Gives every lane its own copy of the policy's action-path weights."""

    def weights(self, lanes: np.ndarray | None) -> dict[str, torch.Tensor]:
        """``{name: (len(lanes), *shape)}`` per-lane parameters (every lane when ``None``)."""
        raise NotImplementedError


class ActionInjector(Injector):
    """Changes the live lanes' actions, in numpy, before the envs step.

    Attributes:
        order: Position among the action injectors (noise 10, replacement 20,
            repetition 30): a lower order acts first.
        replaces_all: Every action is replaced, so the policy need not be run.
    """

    order: int = 0
    replaces_all: bool = False

    def perturb(self, actions: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        """Actions of the live ``lanes`` (one row each) -> the actions the envs execute."""
        raise NotImplementedError


# -- helpers of the built-in types ---------------------------------------------------
def space_name(value: Any) -> str:
    """``"raw"`` or ``"normalized"`` (``"normalised"`` accepted)."""
    if isinstance(value, str) and value in _SPACE_ALIASES:
        return _SPACE_ALIASES[value]
    return check_choice("space", value, SPACES)


def evaluation_spec(field_name: str, value: NoiseSpecLike) -> NoiseSpec:
    """A spec for one condition: one noise level, so a constant schedule and no adaptation."""
    try:
        spec = as_noise_spec(value)
    except ValueError as error:
        raise ValueError(f"{field_name}: {error}") from None
    if not spec.schedule.is_constant:
        raise ValueError(
            f"{field_name} must have a constant schedule in an evaluation condition "
            f"(a condition is one noise level), got {spec.schedule.to_dict()}"
        )
    if spec.adaptive is not None:
        raise ValueError(f"{field_name} cannot be adaptive in an evaluation condition")
    return spec


def plain(value: Any) -> Any:
    """JSON-safe copy of a value (tuples to lists, numpy scalars to Python)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    return value


def json_safe_kwargs(name: str, value: Any) -> tuple[tuple[str, Any], ...]:
    """A mapping of identifiers to JSON-safe values, as sorted ``(name, value)`` pairs."""
    return name_value_pairs(name, value, to_json=plain, store=plain)


def fields(where: str, data: Mapping[str, Any], valid: Sequence[str]) -> dict[str, Any]:
    """The fields of a dict form (``type`` dropped), unknown keys refused."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be a mapping, got {show(data)}")
    check_keys(where, data, ["type", *valid])
    return {k: v for k, v in data.items() if k != "type"}


def grid_levels(where: str, value: Any) -> tuple[list[float], dict[str, Any]]:
    """Split a grid entry into its levels and its other options (``{levels: [...], ...}``)."""
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


def noise_family(
    where: str, section: Any, extra_keys: Sequence[str] = ()
) -> list[tuple[str, float, NoiseSpec, dict[str, Any]]]:
    """``{kind: levels}`` -> ``(kind, level, spec, extra options)`` per level.

    ``extra_keys`` are options of the perturbation rather than of the spec
    (observation noise's ``space``).
    """
    if not isinstance(section, Mapping):
        raise ValueError(f"{where} must map noise kinds to levels, got {show(section)}")
    out = []
    for kind, value in section.items():
        if kind not in KINDS:
            raise ValueError(
                f"unknown noise kind {show(kind)} in {where}; known kinds are {sorted(KINDS)}"
            )
        levels, options = grid_levels(f"{where}.{kind}", value)
        extra = {k: options.pop(k) for k in ("space",) if k in options}
        if extra and "space" not in extra_keys:
            raise ValueError(f"{where}.{kind} has no 'space' option")
        for level in levels:
            try:
                spec = NoiseSpec.from_dict({"kind": kind, **options, "scale": level})
            except ValueError as error:
                raise ValueError(f"{where}.{kind} level {level:g}: {error}") from None
            out.append((kind, level, spec, extra))
    return out
