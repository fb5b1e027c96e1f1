"""The import contracts of pyproject.toml hold, and each one catches the regression it names.

``make lint`` runs ``lint-imports``; CI runs ``make test``, so the contracts are
checked here too. The second test adds one forbidden import at a time to the
real import graph and checks that the contract meant for it breaks: a contract
whose options were mistyped into one that never fails is caught.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

try:
    import grimp
    from importlinter import api
except ImportError:
    if os.environ.get("CI"):  # CI installs the dev extra: a missing linter must not pass
        raise
    pytest.skip("import-linter is not installed: pip install -e '.[dev]'", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    beside = Path(sys.executable).with_name("lint-imports")
    found = str(beside) if beside.is_file() else shutil.which("lint-imports")
    assert found, "lint-imports is not installed: pip install -e '.[dev]'"
    return found


def test_lint_imports_keeps_every_contract() -> None:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}  # this checkout's rlnoise, not an installed one
    result = subprocess.run(
        [_lint_imports(), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@cache
def _configuration() -> dict[str, Any]:
    return api.read_configuration(str(ROOT / "pyproject.toml"))


@cache
def _graph() -> Any:
    return grimp.build_graph("rlnoise", include_external_packages=True, cache_dir=None)


def _contract(contract_id: str) -> Any:
    from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
    from importlinter.contracts.forbidden import ForbiddenContract
    from importlinter.contracts.layers import LayersContract
    from importlinter.contracts.private_modules import PrivateModulesContract

    types = {
        "layers": LayersContract,
        "forbidden": ForbiddenContract,
        "acyclic_siblings": AcyclicSiblingsContract,
        "private_modules": PrivateModulesContract,
    }
    configuration = _configuration()
    (options,) = [o for o in configuration["contracts_options"] if o.get("id") == contract_id]
    return types[options["type"]](
        name=options["name"],
        session_options=configuration["session_options"],
        contract_options=options,
    )


def _kept(contract_id: str, extra_import: tuple[str, str] | None = None) -> bool:
    graph = copy.deepcopy(_graph())
    if extra_import is not None:
        importer, imported = extra_import
        graph.add_import(importer=importer, imported=imported, line_number=1, line_contents="")
    return bool(_contract(contract_id).check(graph, verbose=False).kept)


@pytest.mark.parametrize(
    ("contract_id", "importer", "imported"),
    [
        # Upward: the cycles issue 12 removed.
        ("layers", "rlnoise.evaluation.cli", "rlnoise.experiments.train"),
        ("layers", "rlnoise.runs.env", "rlnoise.wrappers.observation"),
        ("layers", "rlnoise.core.spec", "rlnoise.runs.files"),
        ("layers", "rlnoise.demo", "rlnoise.cli"),
        # Siblings of one layer stay independent.
        ("layers", "rlnoise.wrappers.action", "rlnoise.nn.control"),
        ("layers", "rlnoise.callbacks.gradient_noise", "rlnoise.envs.pixels"),
        ("core-framework-free", "rlnoise.core.random", "gymnasium"),
        ("core-framework-free", "rlnoise.core.kinds", "stable_baselines3"),
        ("runs-light", "rlnoise.runs.contract", "torch"),
        ("acyclic", "rlnoise.core.random", "rlnoise.core.stream"),
        ("acyclic", "rlnoise.runs.files", "rlnoise.runs.lock"),
        ("acyclic", "rlnoise.evaluation.report", "rlnoise.evaluation.display"),
        ("private-modules", "rlnoise.evaluation.grid", "rlnoise.wrappers._tree"),
    ],
)
def test_each_contract_catches_its_regression(
    contract_id: str, importer: str, imported: str
) -> None:
    graph = _graph()
    assert importer in graph.modules and imported in graph.modules
    assert not graph.direct_import_exists(importer=importer, imported=imported)
    assert _kept(contract_id)
    assert not _kept(contract_id, (importer, imported)), f"{importer} -> {imported} went unseen"


def test_a_new_package_must_be_placed_in_the_layers() -> None:
    graph = copy.deepcopy(_graph())
    graph.add_module("rlnoise.unplaced")
    assert not _contract("layers").check(graph, verbose=False).kept
