"""Classes named in a config: a dotted path resolves only to a class of the kind its slot takes.

A config names classes (``algo``, ``policy``, wrappers, callbacks, the
``activation_fn`` of a policy...). Two rules keep a config from running code
it should not:

1. The module must lie under :data:`ALLOWED_PREFIXES` (importing a module runs it).
2. The object must be a *class* derived from the slot's base class
   (:data:`SLOTS`): a wrapper is a ``gymnasium.Wrapper``, a callback an SB3
   ``BaseCallback``... A function is never accepted, even from an allowed
   package: ``stable_baselines3.common.save_util.load_from_pkl`` named as a
   callback would otherwise be called with the config's arguments.

Nothing is instantiated here; the caller builds the class later with the
validated keyword arguments.

Example:
    >>> resolve_class("torch.nn.ReLU", slot="activation_fn").__name__
    'ReLU'
    >>> resolve_class("stable_baselines3.common.save_util.load_from_pkl", slot="callback")
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: callback '...load_from_pkl' is a function, not a callback class (a subclass of ...)
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from rlnoise.core.checks import show

__all__ = [
    "ALLOWED_PREFIXES",
    "CONTRIB_ALGORITHMS",
    "SB3_ALGORITHMS",
    "SLOTS",
    "resolve_algorithm",
    "resolve_class",
    "slot_base",
]

ALLOWED_PREFIXES = (
    "rlnoise",
    "stable_baselines3",
    "sb3_contrib",
    "gymnasium",
    "torch.nn",
    "torch.optim",
)
SB3_ALGORITHMS = ("A2C", "DDPG", "DQN", "PPO", "SAC", "TD3")
CONTRIB_ALGORITHMS = ("ARS", "CrossQ", "MaskablePPO", "QRDQN", "RecurrentPPO", "TQC", "TRPO")

#: Slot -> (what it is called, dotted path of the base class every entry must derive from).
SLOTS: dict[str, tuple[str, str]] = {
    "algo": ("algorithm", "stable_baselines3.common.base_class.BaseAlgorithm"),
    "policy": ("policy", "stable_baselines3.common.policies.BasePolicy"),
    "wrapper": ("Gymnasium wrapper", "gymnasium.core.Wrapper"),
    "callback": ("callback", "stable_baselines3.common.callbacks.BaseCallback"),
    "activation_fn": ("activation module", "torch.nn.modules.module.Module"),
    "features_extractor_class": (
        "features extractor",
        "stable_baselines3.common.torch_layers.BaseFeaturesExtractor",
    ),
    "optimizer_class": ("optimizer", "torch.optim.optimizer.Optimizer"),
}


def _import(path: str, field: str) -> Any:
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


def slot_base(slot: str) -> type:
    """The base class every class in ``slot`` must derive from.

    Example:
        >>> slot_base("wrapper").__name__
        'Wrapper'
    """
    module_name, _, attribute = SLOTS[slot][1].rpartition(".")
    base: type = getattr(importlib.import_module(module_name), attribute)
    return base


def resolve_class(
    path: str, *, slot: str | None = None, base: type | None = None, field: str | None = None
) -> type:
    """Import the class ``package.module.Name``, checked against the slot it fills.

    Args:
        path: The dotted path.
        slot: A key of :data:`SLOTS` (``"wrapper"``, ``"callback"``...): the class
            must derive from that slot's base class.
        base: The base class, when it is not the slot's (e.g. read from a
            constructor annotation).
        field: What to call the value in errors (default: the slot).

    Raises:
        ValueError: Not a dotted path, outside :data:`ALLOWED_PREFIXES`, not
            importable, not a class, or not derived from the slot's base class.

    Example:
        >>> resolve_class("os.system", slot="callback")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: callback 'os.system' is outside the allowed modules [...]
    """
    field = field or slot or "class"
    target = _import(path, field)
    what = "class"
    if slot is not None:
        base = base or slot_base(slot)
        what = f"{SLOTS[slot][0]} class"
    if base is not None and base is not object:
        what += f" (a subclass of {base.__module__}.{base.__qualname__})"
    what = f"{'an' if what[0] in 'aeiou' else 'a'} {what}"
    if not inspect.isclass(target):
        kind = "a function" if callable(target) else f"a {type(target).__name__}"
        raise ValueError(f"{field} {path!r} is {kind}, not {what}")
    if base is not None and not issubclass(target, base):
        raise ValueError(f"{field} {path!r} is not {what}")
    return target


def resolve_algorithm(name: str) -> type:
    """An SB3 (or sb3-contrib) algorithm class from its name or dotted path.

    Example:
        >>> resolve_algorithm("PPO").__name__
        'PPO'
    """
    if name in SB3_ALGORITHMS:
        return resolve_class(f"stable_baselines3.{name}", slot="algo")
    if name in CONTRIB_ALGORITHMS:
        try:
            importlib.import_module("sb3_contrib")
        except ImportError:
            raise ValueError(f"algo {name!r} needs sb3-contrib: pip install sb3-contrib") from None
        return resolve_class(f"sb3_contrib.{name}", slot="algo")
    if isinstance(name, str) and "." in name:
        return resolve_class(name, slot="algo")
    known = [*SB3_ALGORITHMS, *CONTRIB_ALGORITHMS]
    raise ValueError(f"algo must be one of {known} or a dotted path, got {show(name)}")
