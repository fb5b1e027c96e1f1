"""Sweep roots: one directory holding an experiment per member of a sweep.

``rlnoise train`` on a config that declares a ``sweep`` writes each expanded
experiment into its own directory under the sweep's root, and ``sweep.yaml``
in the root: the sweep's name, the swept keys and its members' directories in
the sweep's order::

    runs/wn_sweep/sweep.yaml            # {sweep: wn_sweep, keys: [...], members: [scale=0, ...]}
    runs/wn_sweep/scale=0/experiment.yaml
    runs/wn_sweep/scale=0/seed_0/...    # the run-directory contract of each member
    runs/wn_sweep/scale=0.1/...

Evaluation finds every member from the root: :func:`expand_sweep_roots` turns
a sweep root given as ``--runs`` into its members' directories (each one a
group named after its directory), and leaves any other directory as it is.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> _ = write_sweep(root, {"sweep": "wn", "keys": ["x"], "members": ["x=1", "x=0"]})
    >>> [Path(p).name for p in expand_sweep_roots([str(root)])]
    ['x=1', 'x=0']
    >>> expand_sweep_roots(["runs/plain"])  # not a sweep root: unchanged
    ['runs/plain']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rlnoise.runs.files import write_text
from rlnoise.runs.yaml_loader import dump_yaml, load_yaml_file

__all__ = ["SWEEP_FILE", "expand_sweep_roots", "read_sweep", "sweep_members", "write_sweep"]

#: The marker of a sweep root.
SWEEP_FILE = "sweep.yaml"


def write_sweep(root: str | Path, record: Mapping[str, Any]) -> Path:
    """Write ``sweep.yaml`` (atomically): ``{sweep: name, keys: [...], members: [dir, ...]}``."""
    return write_text(Path(root) / SWEEP_FILE, dump_yaml(dict(record)))


def read_sweep(root: str | Path) -> dict[str, Any] | None:
    """The record of the sweep root ``root``; ``None`` when it holds no ``sweep.yaml``.

    Raises:
        ValueError: ``sweep.yaml`` is unreadable or malformed (one line, naming it).
    """
    path = Path(root) / SWEEP_FILE
    if not path.is_file():
        return None
    try:
        record = load_yaml_file(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"sweep file {path} cannot be read: {error}") from None
    members = record.get("members") if isinstance(record, dict) else None
    if (
        not isinstance(members, list)
        or not members
        or not all(isinstance(m, str) and m and Path(m).name == m for m in members)
    ):
        raise ValueError(
            f"sweep file {path} is malformed (it needs 'members': a list of directory names); "
            "run `rlnoise train` on the sweep's config again to rewrite it"
        )
    return record


def sweep_members(root: str | Path) -> list[Path] | None:
    """The member directories of a sweep root, in the sweep's order; ``None`` if not a root."""
    record = read_sweep(root)
    if record is None:
        return None
    return [Path(root) / member for member in record["members"]]


def expand_sweep_roots(directories: Sequence[str]) -> list[str]:
    """``--runs`` directories with every sweep root replaced by its members' directories."""
    expanded: list[str] = []
    for directory in directories:
        members = sweep_members(directory)
        expanded.extend([directory] if members is None else [str(m) for m in members])
    return expanded
