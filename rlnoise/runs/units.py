"""A unit of work, and what it checks on its worker before it runs.

A unit is a module-level function and its arguments (picklable, so that a
spawned process or a Ray worker imports the same function from its own
rlnoise). On the worker, :func:`execute` first checks that the worker runs the
driver's versions of Python, rlnoise, torch, SB3, Gymnasium and numpy
(:func:`fingerprint`) and sees every path the unit ``needs`` (storage shared
with the driver), then calls the function.

Example:
    >>> execute(pow, (3, 2), needs=("/",), driver=fingerprint())
    9
    >>> execute(pow, (3, 2), needs=("/nowhere/runs",), driver=fingerprint())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rlnoise.runs.units.StorageNotShared: worker ... cannot see /nowhere/runs, which the driver ...
"""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

__all__ = ["PACKAGES", "StorageNotShared", "WorkUnit", "WorkerMismatch", "execute", "fingerprint"]


class StorageNotShared(OSError):
    """A worker cannot see a path the driver wrote: the storage is not shared."""


class WorkerMismatch(RuntimeError):
    """A worker runs other versions (Python, rlnoise, torch, SB3...) than the driver."""


@dataclass(frozen=True)
class WorkUnit:
    """One unit of work: ``function(*args)`` run on a worker.

    Args:
        name: Unique among the units of one run; names the unit in the
            progress, the log and failures (``"ppo seed 3"``).
        function: A module-level function (pickled by reference: the worker
            imports it from its own rlnoise).
        args: Its arguments (picklable).
        needs: Absolute paths the worker must see before it starts (the
            output directory the driver prepared): the shared-storage check.
    """

    name: str
    function: Callable[..., Any]
    args: tuple[Any, ...] = ()
    needs: tuple[str, ...] = ()


#: The distributions whose versions decide the numbers a unit writes.
PACKAGES = ("rlnoise", "torch", "stable-baselines3", "gymnasium", "numpy")


def fingerprint() -> dict[str, str]:
    """What a worker must share with the driver to write the same files.

    Python's version and the installed versions of :data:`PACKAGES`, read from
    their metadata: importing them here would load torch, and `import rlnoise`
    would put every layer above ``runs`` in this module's import graph.
    """
    found = {"python": ".".join(platform.python_version_tuple()[:2])}
    for package in PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
            found[package] = "not installed"
    return found


def execute(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    needs: tuple[str, ...],
    driver: dict[str, str],
) -> Any:
    """Run ``function(*args)`` on this worker once it matches ``driver`` and sees ``needs``.

    Raises:
        WorkerMismatch: Other versions of Python or of :data:`PACKAGES` than the driver's.
        StorageNotShared: A path in ``needs`` does not exist here.
    """
    here = fingerprint()
    differ = [
        name for name in sorted(set(here) | set(driver)) if here.get(name) != driver.get(name)
    ]
    if differ:
        worker = ", ".join(f"{name} {here.get(name)}" for name in differ)
        wanted = ", ".join(f"{name} {driver.get(name)}" for name in differ)
        raise WorkerMismatch(
            f"worker {socket.gethostname()} runs {worker}; the driver {wanted}: install the "
            "same versions on every node"
        )
    for path in needs:
        if not os.path.exists(path):
            raise StorageNotShared(
                f"worker {socket.gethostname()} cannot see {path}, which the driver wrote: the "
                "output directory must be on storage every node shares, at the same path"
            )
    return function(*args)
