"""Choosing parameters and modules by name: a spec's ``where`` globs over a network.

Each injection point has a default selection (e.g. the weights of the linear
and convolution layers of the actor and critic, without biases, norms or
target networks). A ``where`` glob narrows that default; a glob that matches
nothing in the default may still name any other entry explicitly (a bias, a
norm's weight, a target network's layer). A glob that matches nothing at all
is an error that lists what exists.

Example:
    >>> from torch import nn
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> default_weights(net)
    ['0.weight', '2.weight']
    >>> select_names(["2.*"], default_weights(net), [n for n, _ in net.named_parameters()],
    ...              field="weight_noise.where", what="parameter")
    ['2.weight']
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fnmatch import fnmatchcase

from torch import nn

__all__ = [
    "NORM_TYPES",
    "WEIGHT_LAYER_TYPES",
    "default_weights",
    "is_activation",
    "select_names",
    "under",
]

WEIGHT_LAYER_TYPES: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
)
NORM_TYPES: tuple[type[nn.Module], ...] = (
    nn.LayerNorm,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.GroupNorm,
)


def under(name: str, prefixes: Iterable[str]) -> bool:
    """Whether ``name`` is one of ``prefixes`` or lies inside one (``""`` matches all)."""
    for prefix in prefixes:
        if prefix == "" or name == prefix or name.startswith(prefix + "."):
            return True
    return False


def is_activation(module: nn.Module, extra: Sequence[type[nn.Module]] = ()) -> bool:
    """Whether ``module`` is an activation function (a torch one or one of ``extra``)."""
    if extra and isinstance(module, tuple(extra)):
        return True
    return type(module).__module__ == "torch.nn.modules.activation" and not isinstance(
        module, nn.MultiheadAttention
    )


def default_weights(
    root: nn.Module,
    include: Iterable[str] = ("",),
    exclude: Iterable[str] = (),
    *,
    biases: bool = False,
) -> list[str]:
    """Parameter names of the weight layers (linear, conv) under ``include``, not ``exclude``.

    :class:`~rlnoise.nn.NoisyLinear` layers carry their own noise and are not
    taken by default (name their ``mu`` with a ``where`` glob to perturb it).

    Args:
        root: The network.
        include: Module-name prefixes to look in (``""``: everywhere).
        exclude: Module-name prefixes to skip (target networks).
        biases: Also take the layers' biases.
    """
    include, exclude = tuple(include), tuple(exclude)
    names = []
    for module_name, module in root.named_modules():
        if not isinstance(module, WEIGHT_LAYER_TYPES):
            continue
        if not under(module_name, include) or under(module_name, exclude):
            continue
        for attr in ("weight", "bias") if biases else ("weight",):
            if getattr(module, attr, None) is not None:
                names.append(f"{module_name}.{attr}" if module_name else attr)
    return names


def select_names(
    patterns: Sequence[str],
    candidates: Sequence[str],
    universe: Sequence[str],
    *,
    field: str,
    what: str,
) -> list[str]:
    """Resolve ``where`` globs: each narrows ``candidates`` or names entries of ``universe``.

    Args:
        patterns: fnmatch-style globs (empty: all candidates).
        candidates: The default selection.
        universe: Every selectable name.
        field: The option named in errors (e.g. ``"weight_noise.where"``).
        what: What the names are (``"parameter"``, ``"module"``), for errors.

    Returns:
        The chosen names in ``universe`` order.

    Raises:
        ValueError: A pattern matches nothing; the message lists the default
            selection and every name that exists.
    """
    if not patterns:
        return list(candidates)
    chosen: set[str] = set()
    for pattern in patterns:
        hits = [name for name in candidates if fnmatchcase(name, pattern)]
        if not hits:
            hits = [name for name in universe if fnmatchcase(name, pattern)]
        if not hits:
            raise ValueError(
                f"{field} pattern {pattern!r} matches no {what}; the default selection is "
                f"{list(candidates)} and the {what}s that exist are {list(universe)}"
            )
        chosen.update(hits)
    return [name for name in universe if name in chosen]
