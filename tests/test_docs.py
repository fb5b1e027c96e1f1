"""The docs hold: README examples run as pasted, the API reference covers every public name.

- Every ```python block of README.md runs alone, in a fresh namespace, as a reader pastes it.
- The quickstart's ```bash blocks (marked by QUICKSTART_MARK) run as pasted, in a fresh
  directory holding the repository's ``configs/``, and leave the files the quickstart names.
- Every name in every public package's ``__all__`` is on a page of the API reference
  (docs/hooks/api_reference.py generates the pages; ``make docs`` builds them).
- LICENSE and CITATION.cff say what pyproject.toml says.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

import rlnoise

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
QUICKSTART_MARK = "<!-- quickstart: tests/test_docs.py runs this block as pasted -->"
QUICKSTART_BLOCKS = re.findall(re.escape(QUICKSTART_MARK) + r"\s*```bash\n(.*?)```", README, re.S)
# The packages the reference must have a page for (the discovery may find more, never fewer).
PACKAGES = [
    "rlnoise",
    "rlnoise.callbacks",
    "rlnoise.core",
    "rlnoise.envs",
    "rlnoise.evaluation",
    "rlnoise.experiments",
    "rlnoise.nn",
    "rlnoise.policies",
    "rlnoise.wrappers",
    "rlnoise.wrappers.vector",
]


def quickstart_section() -> str:
    match = re.search(r"^## Quickstart\n(.*?)^## ", README, flags=re.S | re.M)
    assert match, "README.md has no '## Quickstart' section"
    return match.group(1)


def test_readme_has_python_examples() -> None:
    assert len(PYTHON_BLOCKS) >= 1


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_block_runs_alone(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    block = PYTHON_BLOCKS[index]
    try:  # a fresh namespace: nothing defined by an earlier block
        exec(compile(block, f"README.md python block {index}", "exec"), {"__name__": "__readme__"})
    except Exception as error:  # pragma: no cover - the message is the point
        raise AssertionError(
            f"README python block {index} failed alone: {error!r}\n{block}"
        ) from error


def test_readme_quickstart_runs_as_pasted(tmp_path: Path) -> None:
    assert QUICKSTART_BLOCKS, f"no ```bash block after {QUICKSTART_MARK!r} in README.md"
    assert all(block in quickstart_section() for block in QUICKSTART_BLOCKS)
    # What a reader has after cloning: the repository's configs, run from its root.
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["OMP_NUM_THREADS"] = "1"  # as conftest does: workers on 2 cores must not fight
    for block in QUICKSTART_BLOCKS:
        done = subprocess.run(
            ["bash", "-e", "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (
            f"{block}\nexit {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    # Every file or folder of the quickstart's own that its text names is there.
    named = set(re.findall(r"`((?:runs|results)/quickstart[\w./-]*)`", quickstart_section()))
    assert named, "the quickstart names none of the files it writes"
    missing = sorted(path for path in named if not (tmp_path / path).exists())
    assert not missing, f"the quickstart names files it does not write: {missing}"


def load_hook(name: str = "api_reference") -> ModuleType:
    path = REPO / "docs" / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"rlnoise_docs_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rendered_identifiers(pages: dict[str, str]) -> set[str]:
    """The identifiers that the pages render with a ``::: identifier`` directive."""
    return {m for page in pages.values() for m in re.findall(r"^::: (\S+)$", page, flags=re.M)}


def test_reference_has_a_page_per_public_package() -> None:
    hook = load_hook()
    assert set(PACKAGES) <= set(hook.public_packages())
    assert set(map(hook.page_path, hook.public_packages())) == set(hook.render_pages())


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_is_in_the_reference(package: str) -> None:
    hook = load_hook()
    pages = hook.render_pages()
    page = pages[hook.page_path(package)]
    rendered = rendered_identifiers(pages)
    module = importlib.import_module(package)
    assert module.__all__, f"{package}.__all__ is empty"
    for name in module.__all__:
        identifier = f"{package}.{name}"
        if f"\n::: {identifier}\n" in page:
            continue
        # Rendered on another package's page and linked from this one.
        links = re.findall(rf"^\| `{re.escape(name)}` \| \[`[^`]+`\]\[([\w.]+)\] \|$", page, re.M)
        assert links, f"{identifier} is neither rendered nor linked on its package's page"
        (target,) = links
        assert target in rendered, f"{identifier} links to {target}, which no page renders"
        home, _, target_name = target.rpartition(".")
        assert target_name == name
        assert getattr(importlib.import_module(home), name) is getattr(module, name)


def test_reference_identifiers_resolve_statically() -> None:
    # mkdocstrings renders from griffe's static analysis: a name that only exists at run
    # time (a lazy export without its TYPE_CHECKING import) would fail `make docs`.
    griffe = pytest.importorskip("griffe")
    hook = load_hook()
    loader = griffe.GriffeLoader(search_paths=[str(REPO)])
    loader.load("rlnoise")
    loader.resolve_aliases(implicit=True, external=False)
    unresolved = []
    for identifier in sorted(rendered_identifiers(hook.render_pages())):
        try:
            found = loader.modules_collection.get_member(identifier)
            if found.is_alias:
                found.final_target  # noqa: B018 - raises when the alias leads nowhere
        except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            unresolved.append(identifier)
    assert not unresolved


def test_license_is_mit_as_pyproject_says() -> None:
    assert importlib.metadata.metadata("rlnoise")["License"] == "MIT"
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the rlnoise developers" in text


def test_citation_cff_is_valid_cff_1_2_0() -> None:
    cff_text = (REPO / "CITATION.cff").read_text()
    citation = yaml.safe_load(cff_text)
    # The keys CFF 1.2.0 requires, with the types its schema gives them.
    assert citation["cff-version"] == "1.2.0"
    assert isinstance(citation["message"], str) and citation["message"]
    assert isinstance(citation["title"], str) and citation["title"]
    authors = citation["authors"]
    assert isinstance(authors, list) and authors
    assert all(isinstance(a, dict) and ({"name", "family-names"} & set(a)) for a in authors)
    assert citation["version"] == rlnoise.__version__
    assert citation["license"] == importlib.metadata.metadata("rlnoise")["License"]


def test_citation_cff_passes_cffconverts_schema_check() -> None:
    cffconvert = pytest.importorskip("cffconvert", reason="cffconvert comes with the docs extra")
    cffconvert.Citation((REPO / "CITATION.cff").read_text()).validate()


def test_docstring_markup_reads_example_sections_and_sphinx_roles() -> None:
    pytest.importorskip("griffe", reason="griffe comes with the docs extra")
    rewrite = load_hook("griffe_docstrings").rewrite
    before = (
        "Uses :class:`~rlnoise.core.NoiseSpec` and :func:`derive_seed`.\n\nExample:\n    >>> 1\n"
    )
    after = "Uses `NoiseSpec` and `derive_seed`.\n\nExamples:\n    >>> 1\n"
    assert rewrite(before) == after
    assert rewrite("Example: not a heading") == "Example: not a heading"
