"""The perturbation types of evaluation conditions, one module each, and their registry.

=================  ==========================================  ==============================
``type``           what it does at evaluation time             the library code that does it
=================  ==========================================  ==============================
``obs_noise``      observation noise of any kind, in the raw   ``wrappers.engines.BoxNoise``
                   env space or the policy's normalised space  (``ObservationNoise``'s engine)
``action_noise``   noise on continuous actions, clipped to     ``BoxActionNoise``
                   the bounds                                  (``ActionNoise``'s engine)
``random_action``  with probability ``p`` a uniformly random   ``RandomReplacement``
                   action                                      (``RandomActionReplacement``'s)
``sticky_action``  with probability ``p`` the previous action  Gymnasium's ``StickyAction``,
                   repeats                                     one per lane
``weight_noise``   the policy's weights perturbed, one draw    ``nn.row_weights``
                   per episode                                 (``rlnoise.nn.WeightNoise``)
``fgsm``, ``pgd``  adversarial observation, l_inf ball         ``attacks.linf``
``dynamics``       env attributes and ``gym.make`` kwargs      ``evaluation.envs.EnvMaker``
=================  ==========================================  ==============================

How to add a perturbation type (delays, reward noise, domain randomisation,
a timed envelope, a new attack...) — in one module:

1. Write a frozen dataclass deriving from
   :class:`~rlnoise.evaluation.perturbations.base.Perturbation`: a ``type``
   name, fields validated in ``__post_init__`` (``ValueError`` naming the
   field), ``to_dict`` / ``from_dict`` (the ``type`` key plus the fields;
   ``to_dict`` is hashed into the condition's seeds and cache keys, so keep
   it stable), a ``label``, and ``exclusive`` if it may appear once per condition.
2. Give it ``grid_keys`` and a ``from_grid`` that expands a grid entry
   (levels and options) into :class:`~rlnoise.evaluation.perturbations.base.GridItem` s.
3. Give it ``compile(lanes)``: for one cell's lanes, an injector of the stage
   it acts at (``ObservationInjector``, ``AttackInjector``, ``WeightInjector``,
   ``ActionInjector``), built on the library's own injector for it (a
   wrappers engine, ``rlnoise.nn``...), and restarted per lane by
   ``start(lane, seed)`` with the episode's seed. Add a stage to ``base`` only
   if none fits (a reward stage, say), and call it in
   :mod:`rlnoise.evaluation.pipeline`.
4. Register it: import it in this package's ``__init__`` and add it to
   ``_BUILT_IN``, or call :func:`register_perturbation` from your own code.

Grids, dict forms, YAML files, ``Condition.from_dict``, the runner and the
report then know it; a test of its dict round trip, its grid key and its
parity with the training-side injector goes in ``tests/evaluation``.

Example:
    >>> perturbation_from_dict({"type": "random_action", "probability": 0.1}).label
    'random_action:0.1'
    >>> "sticky_action" in PERTURBATION_TYPES and "sticky_action" in GRID_KEYS
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rlnoise.core.checks import show
from rlnoise.evaluation.perturbations.base import GridItem, Perturbation

__all__ = [
    "GRID_KEYS",
    "PERTURBATION_TYPES",
    "ActionNoisePerturbation",
    "DynamicsPerturbation",
    "GridItem",
    "ObservationAttackPerturbation",
    "ObservationNoisePerturbation",
    "Perturbation",
    "RandomActionPerturbation",
    "StickyActionPerturbation",
    "WeightNoisePerturbation",
    "grid_builder",
    "perturbation_from_dict",
    "register_perturbation",
]

#: ``type`` name -> class, for every registered perturbation type.
PERTURBATION_TYPES: dict[str, type[Perturbation]] = {}
#: Grid key -> the class that expands it (its ``from_grid``).
GRID_KEYS: dict[str, type[Perturbation]] = {}


def register_perturbation(cls: type[Perturbation]) -> type[Perturbation]:
    """Make a perturbation type known to dict forms and grids (usable as a decorator).

    Raises:
        ValueError: A ``type`` or grid key another class already has.
    """
    types = cls.types or (cls.type,)
    for name in types:
        if PERTURBATION_TYPES.get(name, cls) is not cls:
            raise ValueError(f"perturbation type {name!r} is already registered")
    for key in cls.grid_keys:
        if GRID_KEYS.get(key, cls) is not cls:
            raise ValueError(f"grid key {key!r} is already registered")
    PERTURBATION_TYPES.update(dict.fromkeys(types, cls))
    GRID_KEYS.update(dict.fromkeys(cls.grid_keys, cls))
    return cls


def perturbation_from_dict(data: Mapping[str, Any] | Perturbation) -> Perturbation:
    """Build any perturbation from its dict form (dispatch on ``type``)."""
    if isinstance(data, Perturbation):
        return data
    if not isinstance(data, Mapping) or "type" not in data:
        raise ValueError(
            f"a perturbation is a mapping with a 'type' (one of {sorted(PERTURBATION_TYPES)}), "
            f"got {show(data)}"
        )
    kind = data["type"]
    cls = PERTURBATION_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(
            f"unknown perturbation type {show(kind)}; known types are {sorted(PERTURBATION_TYPES)}"
        )
    return cls.from_dict(data)


def grid_builder(key: str) -> type[Perturbation] | None:
    """The perturbation type that expands grid key ``key`` (``None``: not a perturbation key)."""
    return GRID_KEYS.get(key)


# The built-in types (imported after the registry exists, which they do not import).
from rlnoise.evaluation.perturbations.action_noise import ActionNoisePerturbation  # noqa: E402
from rlnoise.evaluation.perturbations.attack import ObservationAttackPerturbation  # noqa: E402
from rlnoise.evaluation.perturbations.dynamics import DynamicsPerturbation  # noqa: E402
from rlnoise.evaluation.perturbations.observation_noise import (  # noqa: E402
    ObservationNoisePerturbation,
)
from rlnoise.evaluation.perturbations.random_action import RandomActionPerturbation  # noqa: E402
from rlnoise.evaluation.perturbations.sticky_action import StickyActionPerturbation  # noqa: E402
from rlnoise.evaluation.perturbations.weight_noise import WeightNoisePerturbation  # noqa: E402

_BUILT_IN: tuple[type[Perturbation], ...] = (
    ObservationNoisePerturbation,
    ActionNoisePerturbation,
    WeightNoisePerturbation,
    RandomActionPerturbation,
    StickyActionPerturbation,
    ObservationAttackPerturbation,
    DynamicsPerturbation,
)
for _cls in _BUILT_IN:
    register_perturbation(_cls)
