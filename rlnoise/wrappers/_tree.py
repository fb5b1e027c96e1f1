"""``SpaceNoise``: noise over a whole (possibly Dict or Tuple) space, one ``BoxNoise`` per leaf.

Which leaves get noise is given by a *spec tree*:

- a spec (``NoiseSpec``, compact string, or a mapping with a ``kind``) applies
  to the space it is aimed at; aimed at a Dict or Tuple it applies to every
  Box leaf inside (other leaves, e.g. Discrete, pass through untouched);
- a mapping ``{key: spec-tree}`` addresses the keys of a Dict space (keys not
  named pass through);
- a list ``[spec-tree, ...]`` (one per index) or a mapping ``{index: spec-tree}``
  addresses a Tuple space;
- ``None``: no noise there.

Example:
    >>> import numpy as np
    >>> from gymnasium import spaces
    >>> space = spaces.Dict({"pos": spaces.Box(-1, 1, (2,)), "mode": spaces.Discrete(3)})
    >>> noise = SpaceNoise(space, [{"pos": "gaussian:0.1"}], n_rows=None,
    ...                    seed_key=("observation",), name="observation")
    >>> [leaf.name for _, leaf in noise.leaves]
    ['observation/pos']
    >>> noise.output_space["pos"].high.tolist()
    [inf, inf]
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from rlnoise.core.checks import show
from rlnoise.core.spec import NoiseSpec, as_noise_spec
from rlnoise.wrappers._box import BoxNoise

__all__ = ["SpaceNoise", "SpecTree", "plain_tree"]

SpecTree = Any  # NoiseSpecLike | Mapping[key, SpecTree | None] | Sequence[SpecTree | None] | None
Path = tuple[Any, ...]


def _is_spec(value: Any) -> bool:
    return isinstance(value, NoiseSpec | str) or (isinstance(value, Mapping) and "kind" in value)


def _label(name: str, path: Path) -> str:
    return "/".join([name, *(str(p) for p in path)])


def plain_tree(tree: SpecTree) -> SpecTree:
    """The tree with every spec as its ``to_dict()`` form (YAML/JSON-safe, for ``env.spec``)."""
    if tree is None:
        return None
    if _is_spec(tree):
        return as_noise_spec(tree).to_dict()
    if isinstance(tree, Mapping):
        return {key: plain_tree(sub) for key, sub in tree.items()}
    if isinstance(tree, list | tuple):
        return [plain_tree(sub) for sub in tree]
    return tree


def resolve_specs(space: spaces.Space, tree: SpecTree, name: str) -> dict[Path, NoiseSpec]:
    """Map the path of every Box leaf that gets noise to its spec.

    Raises:
        ValueError: A spec aimed at a non-Box leaf (Discrete, Text, ...), a key
            or index the space does not have, or a tree that does not fit the space.
    """
    out: dict[Path, NoiseSpec] = {}
    _resolve(space, tree, (), name, out)
    return out


def _resolve(
    space: spaces.Space, tree: SpecTree, path: Path, name: str, out: dict[Path, NoiseSpec]
) -> None:
    label = _label(name, path)
    if tree is None:
        return
    if _is_spec(tree):
        try:
            spec = as_noise_spec(tree)
        except ValueError as error:
            raise ValueError(f"{label}: {error}") from None
        before = len(out)
        _spread(space, spec, path, name, out, aimed=True)
        if len(out) == before:
            raise ValueError(f"{label}: {space} has no Box leaf to add noise to")
        return
    if isinstance(space, spaces.Dict):
        if not isinstance(tree, Mapping):
            raise ValueError(
                f"{label}: a Dict space takes a spec or a mapping key -> spec, got {show(tree)}"
            )
        for key, sub in tree.items():
            if key not in space.spaces:
                raise ValueError(
                    f"{label}: key {key!r} is not in the Dict space; its keys are "
                    f"{list(space.spaces)}"
                )
            _resolve(space.spaces[key], sub, (*path, key), name, out)
        return
    if isinstance(space, spaces.Tuple):
        count = len(space.spaces)
        if isinstance(tree, Mapping):
            items = list(tree.items())
        elif isinstance(tree, list | tuple):
            if len(tree) != count:
                raise ValueError(
                    f"{label}: got {len(tree)} specs for a Tuple space of {count} entries"
                )
            items = list(enumerate(tree))
        else:
            raise ValueError(
                f"{label}: a Tuple space takes a spec, a list or a mapping index -> spec, "
                f"got {show(tree)}"
            )
        for index, sub in items:
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
                raise ValueError(
                    f"{label}: index {index!r} is not in the Tuple space of {count} entries"
                )
            _resolve(space.spaces[index], sub, (*path, index), name, out)
        return
    if not isinstance(tree, Mapping | list | tuple):
        raise ValueError(
            f"{label}: the spec must be a NoiseSpec, a compact string (e.g. 'gaussian:0.1') "
            f"or a mapping with a 'kind', got {show(tree)}"
        )
    raise ValueError(
        f"{label}: a mapping or list of specs needs a Dict or Tuple space, got {space} "
        f"and {show(tree)}"
    )


def _spread(
    space: spaces.Space,
    spec: NoiseSpec,
    path: Path,
    name: str,
    out: dict[Path, NoiseSpec],
    aimed: bool,
) -> None:
    if isinstance(space, spaces.Box):
        out[path] = spec
    elif isinstance(space, spaces.Dict):
        for key, sub in space.spaces.items():
            _spread(sub, spec, (*path, key), name, out, aimed=False)
    elif isinstance(space, spaces.Tuple):
        for index, sub in enumerate(space.spaces):
            _spread(sub, spec, (*path, index), name, out, aimed=False)
    elif aimed:
        raise ValueError(
            f"{_label(name, path)}: cannot add noise to {space}; noise needs Box values "
            "(Discrete, MultiDiscrete, MultiBinary, Text, Graph and Sequence spaces are not "
            "supported)"
        )


def _space_at(space: spaces.Space, path: Path) -> spaces.Space:
    for key in path:
        space = space.spaces[key]  # type: ignore[attr-defined]
    return space


def _value_at(value: Any, path: Path) -> Any:
    for key in path:
        value = value[key]
    return value


def _replace_at(value: Any, path: Path, leaf: Any) -> Any:
    """A copy of ``value`` with ``leaf`` at ``path`` (containers along the path copied)."""
    if not path:
        return leaf
    key, rest = path[0], path[1:]
    if isinstance(value, tuple):
        items = list(value)
        items[key] = _replace_at(value[key], rest, leaf)
        return tuple(items)
    out = value.copy()
    out[key] = _replace_at(value[key], rest, leaf)
    return out


class SpaceNoise:
    """Noise over a Box, Dict or Tuple space for one env or a batch of rows.

    Args:
        space: The (single-env) space of the clean values.
        trees: One spec tree per row (``None``: that row stays clean); a single
            entry when ``n_rows`` is ``None``.
        n_rows: Batch size, or ``None`` for one env.
        seed_key: Keys mixed into every leaf's seeds (the leaf's path is added).
        name: Label for errors and :meth:`scales` (``"observation"``, ``"action"``).

    Raises:
        ValueError: See :func:`resolve_specs` and :class:`BoxNoise`; also when no
            row has any noise at all.
    """

    def __init__(
        self,
        space: spaces.Space,
        trees: Sequence[SpecTree],
        *,
        n_rows: int | None,
        seed_key: tuple[Any, ...],
        name: str,
    ):
        if not isinstance(space, spaces.Box | spaces.Dict | spaces.Tuple):
            raise ValueError(
                f"{name}: cannot add noise to {space}; noise needs a Box space or a Dict/Tuple "
                "of them (Discrete, MultiDiscrete, MultiBinary, Text, Graph and Sequence spaces "
                "are not supported)"
            )
        self.space = space
        self.n_rows = n_rows
        per_row = [resolve_specs(space, tree, name) for tree in trees]
        paths: list[Path] = []
        for specs in per_row:
            paths.extend(p for p in specs if p not in paths)
        if not paths:
            raise ValueError(f"{name}: no noise spec given (every spec is None)")
        paths.sort(key=lambda p: _leaf_order(space, p))
        self.leaves: list[tuple[Path, BoxNoise]] = []
        for path in paths:
            box = _space_at(space, path)
            assert isinstance(box, spaces.Box)
            self.leaves.append(
                (
                    path,
                    BoxNoise(
                        _label(name, path),
                        box,
                        [specs.get(path) for specs in per_row],
                        n_rows=n_rows,
                        seed_key=(*seed_key, *path),
                    ),
                )
            )
        self.box = self.leaves[0][1] if paths == [()] else None
        self.output_space: spaces.Space = space
        for path, leaf in self.leaves:
            if leaf.output_space is not leaf.space:
                self.output_space = _replace_space(self.output_space, path, leaf.output_space)
        self.scheduled = any(leaf.scheduled for _, leaf in self.leaves)
        self.restarts = any(leaf.restarts for _, leaf in self.leaves)
        # One draw and one add per call when the whole value is one white-noise Box.
        self.draw = None if self.box is None else self.box.draw
        self.final_draw = (
            self.box.final_draw if self.box is not None and self.box.prescaled else None
        )

    def apply(self, value: Any) -> Any:
        """The noisy value (or batch)."""
        if self.box is not None:
            return self.box.apply(value)
        for path, leaf in self.leaves:
            value = _replace_at(value, path, leaf.apply(_value_at(value, path)))
        return value

    def final(self, values: Sequence[Any], rows: Sequence[int]) -> list[Any]:
        """Noisy copies of last observations, one per row in ``rows`` (see ``BoxNoise.final``)."""
        if self.box is not None:
            return self.box.final_rows(values, rows)
        out = list(values)
        for path, leaf in self.leaves:
            stacked = np.array([_value_at(v, path) for v in values])
            noisy = leaf.final(stacked, rows)
            out = [_replace_at(v, path, noisy[j]) for j, v in enumerate(out)]
        return out

    def reseed(self, seeds: Sequence[int | None], rows: Sequence[int] | None = None) -> None:
        """New generators for ``rows`` derived from ``seeds`` (``None``: OS entropy)."""
        for _, leaf in self.leaves:
            leaf.reseed(seeds, rows)

    def restart(self, rows: Sequence[int] | None = None) -> None:
        """Episode start for ``rows`` (all when ``None``)."""
        for _, leaf in self.leaves:
            leaf.restart(rows)

    def set_step(self, t: int) -> None:
        """Set the schedules' step count."""
        for _, leaf in self.leaves:
            leaf.set_step(t)

    def scales(self) -> dict[str, float]:
        """Current mean effective scale of each leaf, keyed by its label."""
        return {leaf.name: leaf.scales() for _, leaf in self.leaves}


def _leaf_order(space: spaces.Space, path: Path) -> tuple[int, ...]:
    order = []
    for key in path:
        keys = list(space.spaces) if isinstance(space, spaces.Dict) else None
        order.append(keys.index(key) if keys is not None else int(key))
        space = space.spaces[key]  # type: ignore[attr-defined]
    return tuple(order)


def _replace_space(space: spaces.Space, path: Path, leaf: spaces.Space) -> spaces.Space:
    if not path:
        return leaf
    key, rest = path[0], path[1:]
    if isinstance(space, spaces.Dict):
        items = OrderedDict(space.spaces)
        items[key] = _replace_space(space.spaces[key], rest, leaf)
        return spaces.Dict(items)
    assert isinstance(space, spaces.Tuple)
    subs = list(space.spaces)
    subs[key] = _replace_space(subs[key], rest, leaf)
    return spaces.Tuple(subs)


def _rescaled(tree: SpecTree, scale: Any, label: str) -> SpecTree:
    if tree is None:
        return None
    if _is_spec(tree):
        try:
            return as_noise_spec(tree).replace(scale=scale)
        except ValueError as error:
            raise ValueError(f"{label}: {error}") from None
    if isinstance(tree, Mapping):
        return {key: _rescaled(sub, scale, label) for key, sub in tree.items()}
    if isinstance(tree, list | tuple):
        return [_rescaled(sub, scale, label) for sub in tree]
    return tree


def trees_per_env(
    num_envs: int,
    spec: SpecTree,
    specs_per_env: Sequence[SpecTree] | None,
    scale_per_env: Any,
) -> list[SpecTree]:
    """One spec tree per sub-env from a vector wrapper's arguments.

    Args:
        num_envs: Number of sub-envs.
        spec: One spec tree for every sub-env (or ``None`` with ``specs_per_env``).
        specs_per_env: One spec tree per sub-env (``None`` entries stay clean).
        scale_per_env: Optional scale per sub-env, replacing the scale of every
            spec in that sub-env's tree (e.g. several noise levels in one batch).

    Raises:
        ValueError: Both or neither of ``spec`` / ``specs_per_env``, or a list
            whose length is not ``num_envs``.

    Example:
        >>> [t.scale for t in trees_per_env(3, "gaussian:0.1", None, [0.0, 0.1, 0.2])]
        [0.0, 0.1, 0.2]
    """
    if (spec is None) == (specs_per_env is None):
        raise ValueError("give exactly one of spec (all sub-envs) and specs_per_env (one each)")
    if specs_per_env is not None:
        if isinstance(specs_per_env, str | Mapping) or not isinstance(specs_per_env, Sequence):
            raise ValueError(
                f"specs_per_env must be a list with one spec per sub-env, got {show(specs_per_env)}"
            )
        if len(specs_per_env) != num_envs:
            raise ValueError(
                f"specs_per_env has {len(specs_per_env)} entries for {num_envs} sub-envs"
            )
        trees = list(specs_per_env)
    else:
        trees = [spec] * num_envs
    if scale_per_env is not None:
        scales = np.asarray(scale_per_env, dtype=object)
        if scales.ndim != 1 or len(scales) != num_envs:
            raise ValueError(
                f"scale_per_env must be a list of {num_envs} numbers, got {show(scale_per_env)}"
            )
        trees = [
            _rescaled(tree, scale, f"scale_per_env[{i}]")
            for i, (tree, scale) in enumerate(zip(trees, scales.tolist(), strict=True))
        ]
    return trees
