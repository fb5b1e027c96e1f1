"""The ``ray`` marker: skipped with a reason without Ray; a module-scoped local Ray for its tests.

Loaded by ``tests/conftest.py``. A test marked ``@pytest.mark.ray`` is skipped
when Ray is not installed (``pip install "rlnoise[ray]"``), except on CI
(``CI`` set), which installs the extra: there a missing Ray is an error, not
a quiet skip. ``ray_local`` starts Ray once per module (about 5-10 s and
1 GB), in this process, as ``rlnoise`` would (``include_dashboard=False``);
mark the module ``xdist_group("ray")`` so that one xdist worker runs every
Ray test (``make test`` passes ``--dist loadgroup``) and only one Ray starts.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from typing import Any

import pytest

RAY_MISSING = 'Ray is not installed: pip install "rlnoise[ray]"'


def ray_installed() -> bool:
    """Whether ``import ray`` can work (``sys.modules['ray'] = None`` says no)."""
    try:
        return importlib.util.find_spec("ray") is not None
    except ValueError:  # a module set to None in sys.modules
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the ``ray`` tests without Ray (fail them on CI, which installs it)."""
    if ray_installed() or os.environ.get("CI"):  # on CI they run, and fail without Ray
        return
    marker = pytest.mark.skip(reason=RAY_MISSING)
    for item in items:
        if item.get_closest_marker("ray") is not None:
            item.add_marker(marker)


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    """Ray started in this process with two CPUs for the module's tests, then shut down."""
    import logging

    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no report sent from a test
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
    try:
        yield ray
    finally:
        ray.shutdown()
